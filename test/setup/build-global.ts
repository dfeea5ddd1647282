// globalSetup for the projects whose tests run the built app (dist/): build it once, before any test
// file runs, and only when a source is newer (`npm test` has just built it). Vitest runs the global
// setups of all projects one after another before the first test, so nothing rebuilds under a test.
import path from 'node:path';
import { ensureBuilt } from './build';

export default function setup(): void {
  process.stderr.write(`[build] ${ensureBuilt(path.resolve(__dirname, '../..'))}\n`);
}
