// `npm start` without Electron: the same app as the headless server on the embedded defaults,
// shown in the user's browser. Pure helpers first (unit-tested), then the runner.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Where the Electron binary is, or why there is none — without triggering electron's own download
 * (which prints a stack trace when it fails). `electronDir` is node_modules/electron.
 */
export function findElectron(electronDir, env = process.env, exists = fs.existsSync) {
  const pathFile = path.join(electronDir, 'path.txt');
  const relative = exists(pathFile) ? fs.readFileSync(pathFile, 'utf8').trim() : undefined;
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const file = path.join(env.ELECTRON_OVERRIDE_DIST_PATH, relative || 'electron');
    return exists(file) ? { path: file } : { missing: `ELECTRON_OVERRIDE_DIST_PATH has no ${file}` };
  }
  if (relative && exists(path.join(electronDir, 'dist', relative))) return { path: path.join(electronDir, 'dist', relative) };
  return { missing: 'the Electron binary is not installed', downloadable: true };
}

/** The command that opens a URL in the user's browser here, or undefined when there is no sensible one. */
export function browserOpener(platform, env) {
  if (env.OFFHOST_NO_BROWSER === '1' || env.CI) return undefined;
  if (platform === 'darwin') return ['open'];
  if (platform === 'win32') return ['cmd', '/c', 'start', '""'];
  // Without a display, xdg-open falls back to a text browser in this very terminal: don't.
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return ['xdg-open'];
  return undefined;
}

const LOGIN_URL = /https?:\/\/\S+\?token=\S+/;

/**
 * Runs `node dist/main/server.js` (arguments passed on), echoes its output, opens the printed
 * sign-in address in a browser if there is one, forwards Ctrl-C / SIGTERM, and exits with it.
 */
export function runInBrowser(root, notice, args = []) {
  process.stderr.write(`\nOffhost: ${notice}; starting the same app in your browser instead.\n`);
  const server = spawn(process.execPath, [path.join(root, 'dist', 'main', 'server.js'), ...args], { stdio: ['inherit', 'inherit', 'pipe'] });
  let seen = '';
  let opened = false;
  server.stderr.on('data', (chunk) => {
    process.stderr.write(chunk);
    if (opened) return;
    seen += chunk.toString();
    const url = LOGIN_URL.exec(seen)?.[0];
    if (!url) return;
    opened = true;
    const opener = browserOpener(process.platform, process.env);
    if (!opener) return;
    try {
      const child = spawn(opener[0], [...opener.slice(1), url], { stdio: 'ignore', detached: true });
      child.on('error', () => {}); // no browser: the printed address is enough
      child.unref();
    } catch {
      // same
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => server.kill(signal));
  server.on('exit', (code, signal) => process.exit(signal ? 0 : (code ?? 0)));
}
