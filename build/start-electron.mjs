// `npm start`: the desktop app. Where Electron's binary can't be had (it comes from GitHub on first
// use; ELECTRON_SKIP_BINARY_DOWNLOAD skips that), the same app in the browser: the headless server
// on the embedded defaults. Arguments after `npm start --` go to the server in that case.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron, runInBrowser } from './browser-mode.mjs';
import { electronSqliteBinding } from './electron-native.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const electronDir = path.dirname(require.resolve('electron/package.json'));

let electron = findElectron(electronDir);
if (electron.downloadable && !process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
  // Once per install; quietly, so a machine without GitHub gets one line, not a stack trace.
  process.stderr.write('Getting the Electron binary…\n');
  const r = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { stdio: 'pipe', timeout: 10 * 60_000 });
  electron = findElectron(electronDir);
  if (!electron.path) electron.missing = `the Electron binary could not be downloaded (${(r.stderr?.toString().match(/\w*Error: .*/) ?? ['no network?'])[0]})`;
}

if (electron.downloadable && process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) electron.missing += ' (ELECTRON_SKIP_BINARY_DOWNLOAD is set)';

if (!electron.path) {
  runInBrowser(root, electron.missing, process.argv.slice(2));
} else {
  let binding;
  try {
    binding = electronSqliteBinding(require('electron/package.json').version);
  } catch (e) {
    runInBrowser(root, `the Electron build of better-sqlite3 could not be had (${e.message.split('\n')[0]})`, process.argv.slice(2));
  }
  if (binding) {
    const child = spawn(electron.path, [root], { stdio: 'inherit', env: { ...process.env, OFFHOST_SQLITE_BINDING: binding } });
    child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
  }
}
