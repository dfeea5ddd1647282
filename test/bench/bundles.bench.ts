// How long reading and checking an uploaded bundle takes (inspectBundle: gunzip, every member's
// MD5, the manifest's rules), for an rsconnect-sized app and for a large one.
// Run with `npm run bench`; vitest prints ops/s and the mean per call.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { inspectBundle } from '../../main/content/bundle-archive';
import { APP_PY, REQUIREMENTS, gzip, tarOf, type Member } from '../integration/connect-helpers';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bench-bundles-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function bundle(name: string, extra: Member[]): string {
  const md5 = (b: string | Buffer) => createHash('md5').update(b).digest('hex');
  const files: Member[] = [{ path: 'requirements.txt', data: REQUIREMENTS }, { path: 'main.py', data: APP_PY }, ...extra];
  const manifest = {
    version: 1,
    metadata: { appmode: 'python-fastapi', entrypoint: 'main' },
    python: { version: '3.11.7', package_manager: { name: 'pip', package_file: 'requirements.txt' } },
    files: Object.fromEntries(files.map((f) => [f.path, { checksum: md5(f.data ?? '') }])),
  };
  const file = path.join(dir, `${name}.tar.gz`);
  fs.writeFileSync(file, gzip(tarOf([{ path: 'manifest.json', data: JSON.stringify(manifest) }, ...files])));
  return file;
}

const small = bundle('small', []);
// 2,000 files, 48 MiB: half random (incompressible), half text.
const large = bundle(
  'large',
  Array.from({ length: 2000 }, (_, i) => ({ path: `data/part-${i}.bin`, data: i % 2 ? randomBytes(24 * 1024) : Buffer.from('x,y,z\n'.repeat(4096)) })),
);

describe('inspectBundle', () => {
  bench(`rsconnect-sized FastAPI app (${fs.statSync(small).size} bytes)`, async () => {
    await inspectBundle(small);
  });
  bench(`2,000 files, 48 MiB expanded (${(fs.statSync(large).size / 1024 ** 2).toFixed(1)} MiB compressed)`, async () => {
    await inspectBundle(large);
  }, { iterations: 5, time: 0 });
});
