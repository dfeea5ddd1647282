// `npm run dist`: fetch the Electron build of better-sqlite3, then package with electron-builder.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { electronSqliteBinding } from './electron-native.mjs';

const require = createRequire(import.meta.url);
const binding = electronSqliteBinding(require('electron/package.json').version);
execFileSync('npx', ['electron-builder', '--config', 'build/electron-builder.yml', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, OFFHOST_SQLITE_BINDING: binding },
});
