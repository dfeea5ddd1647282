// `npm run dist`: fetch the Electron build of better-sqlite3, package with electron-builder (which
// flips the Electron fuses set in electron-builder.yml), then read the fuses back from every
// packaged app and fail if any differs (build/verify-fuses.mjs).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { electronSqliteBinding } from './electron-native.mjs';
import { verifyPackagedFuses } from './verify-fuses.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binding = electronSqliteBinding(require('electron/package.json').version);
execFileSync('npx', ['electron-builder', '--config', 'build/electron-builder.yml', ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, OFFHOST_SQLITE_BINDING: binding },
});

// electron-builder.yml: directories.output
const release = path.join(root, 'release');
const { apps, problems } = await verifyPackagedFuses(release);
if (problems.length > 0) {
  console.error(`\nElectron fuses are not as build/electron-builder.yml sets them:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
console.log(`Electron fuses verified in ${apps.map((a) => path.relative(release, a)).join(', ')}`);
