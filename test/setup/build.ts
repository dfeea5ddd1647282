// Build dist/ once before the e2e tests, and only when a source is newer than the build: `npm test`
// has just built it, and rebuilding while servers run from dist/ is what made the tests flaky.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** What `npm run build` reads (directories are walked) and what it writes. */
export const BUILD_INPUTS = ['main', 'shared', 'renderer', 'preload', 'build/bundle-main.mjs', 'vite.config.ts', 'package.json'];
export const BUILD_OUTPUTS = ['dist/main/server.js', 'dist/main/cli.js', 'dist/renderer/index.html'];

function newest(file: string): { file: string; mtime: number } | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isDirectory()) return { file, mtime: stat.mtimeMs };
  let best: { file: string; mtime: number } | undefined;
  for (const name of fs.readdirSync(file)) {
    const n = newest(path.join(file, name));
    if (n && (!best || n.mtime > best.mtime)) best = n;
  }
  return best;
}

/** Why dist/ must be built, or undefined when it is up to date. */
export function whyBuild(root: string): string | undefined {
  let oldestOutput = Infinity;
  for (const out of BUILD_OUTPUTS) {
    const f = path.join(root, out);
    if (!fs.existsSync(f)) return `${out} is missing`;
    oldestOutput = Math.min(oldestOutput, fs.statSync(f).mtimeMs);
  }
  for (const input of BUILD_INPUTS) {
    const n = newest(path.join(root, input));
    if (n && n.mtime > oldestOutput) return `${path.relative(root, n.file)} is newer than the build`;
  }
  return undefined;
}

/** Builds when needed; returns what it did, for the log. */
export function ensureBuilt(root: string): string {
  const why = whyBuild(root);
  if (!why) return 'dist/ is up to date';
  const t = Date.now();
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  return `built dist/ in ${((Date.now() - t) / 1000).toFixed(1)} s (${why})`;
}
