// `npm start`: the desktop app. Needs the Electron binary, which `npm install` skips when
// ELECTRON_SKIP_BINARY_DOWNLOAD is set and which is fetched from GitHub on first use.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { electronSqliteBinding } from './electron-native.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function fail(message) {
  console.error(`\nOffhost desktop: ${message}\n\nThe same UI runs in a browser without Electron:  npm run serve\n`);
  process.exit(1);
}

let electron;
try {
  electron = require('electron');
} catch (e) {
  fail(`the Electron binary is not installed and could not be downloaded (${e.message.split('\n')[0]}).
It comes from GitHub releases; on a machine that can reach github.com run "npx install-electron --no" (or reinstall without ELECTRON_SKIP_BINARY_DOWNLOAD).`);
}

let binding;
try {
  binding = electronSqliteBinding(require('electron/package.json').version);
} catch (e) {
  fail(e.message);
}

const child = spawn(electron, [root], { stdio: 'inherit', env: { ...process.env, OFFHOST_SQLITE_BINDING: binding } });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
