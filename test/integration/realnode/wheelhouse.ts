/**
 * A wheelhouse for pods that have no network: wheels for the runtime image's Python (3.11,
 * manylinux x86-64) downloaded once on the host with pip from PyPI and cached under
 * ~/.cache/offhost/wheelhouse/<hash of the requirements>/. Copied onto a volume, it is the
 * package source a build job's `pip install --no-index --find-links` reads.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function wheelhouse(requirements: string[], pythonVersion = '3.11'): Promise<string> {
  const key = createHash('sha256').update(`${pythonVersion}\n${[...requirements].sort().join('\n')}`).digest('hex').slice(0, 16);
  const dir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'offhost', 'wheelhouse', key);
  if (fs.existsSync(path.join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    await run(
      'python3',
      ['-m', 'pip', 'download', '--disable-pip-version-check', '--quiet', '--only-binary=:all:', '--implementation', 'cp', '--python-version', pythonVersion, '--platform', 'manylinux2014_x86_64', '--platform', 'manylinux_2_17_x86_64', '--dest', tmp, ...requirements],
      { maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
    );
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`pip download ${requirements.join(' ')} failed: ${err.stderr || err.message}`);
  }
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}
