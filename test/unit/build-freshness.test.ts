// The e2e set-up rebuilds dist/ only when a source is newer than the build.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { BUILD_OUTPUTS, whyBuild } from '../setup/build';

let tmp: string;
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function touch(file: string, secondsAgo: number): void {
  const full = path.join(tmp, file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, '');
  const t = new Date(Date.now() - secondsAgo * 1000);
  fs.utimesSync(full, t, t);
}

it('builds when an output is missing, when a source (however deep) is newer, and not otherwise', () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-build-'));
  touch('main/api/http-server.ts', 100);
  touch('renderer/src/App.tsx', 100);
  expect(whyBuild(tmp)).toBe('dist/main/server.js is missing');

  for (const out of BUILD_OUTPUTS) touch(out, 50);
  expect(whyBuild(tmp)).toBeUndefined();

  touch('renderer/src/pages/New.tsx', 10);
  expect(whyBuild(tmp)).toBe(`${path.join('renderer', 'src', 'pages', 'New.tsx')} is newer than the build`);
});
