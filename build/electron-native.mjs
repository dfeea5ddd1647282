// better-sqlite3 is a native module: node_modules holds the build for the machine's Node (tests,
// server). Electron needs one built for its own ABI. We fetch that one into a cache and hand its
// path to the app (OFFHOST_SQLITE_BINDING), so the two never overwrite each other.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function electronSqliteBinding(electronVersion, { arch = process.arch, platform = process.platform } = {}) {
  const cache = path.join(os.homedir(), '.cache', 'offhost', 'electron-native', `${electronVersion}-${platform}-${arch}`);
  const target = path.join(cache, 'better_sqlite3.node');
  if (fs.existsSync(target)) return target;

  // Work on a copy of the package so node_modules keeps its Node build.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-sqlite-'));
  fs.cpSync(path.join(root, 'node_modules', 'better-sqlite3'), work, { recursive: true });
  fs.rmSync(path.join(work, 'build'), { recursive: true, force: true });
  const bin = (name) => path.join(root, 'node_modules', '.bin', name);
  const tries = [
    // A prebuilt binary from the better-sqlite3 release (needs GitHub).
    [bin('prebuild-install'), ['--runtime', 'electron', '--target', electronVersion, '--arch', arch, '--platform', platform, '--tag-prefix', 'v']],
    // Otherwise compile it against Electron's headers (needs a C++ toolchain and the headers download).
    [bin('electron-rebuild'), ['--version', electronVersion, '--module-dir', work, '--only', 'better-sqlite3', '--force']],
  ];
  const errors = [];
  for (const [cmd, args] of tries) {
    try {
      execFileSync(cmd, args, { cwd: work, stdio: 'inherit' });
      const built = path.join(work, 'build', 'Release', 'better_sqlite3.node');
      if (fs.existsSync(built)) {
        fs.mkdirSync(cache, { recursive: true });
        fs.copyFileSync(built, target);
        fs.rmSync(work, { recursive: true, force: true });
        return target;
      }
    } catch (e) {
      errors.push(`${path.basename(cmd)}: ${e.message.split('\n')[0]}`);
    }
  }
  fs.rmSync(work, { recursive: true, force: true });
  throw new Error(`Could not get better-sqlite3 built for Electron ${electronVersion}:\n  ${errors.join('\n  ')}`);
}
