// The esbuild bundle (what `npm run serve`, the CLI and Electron run) finds and runs its YAML
// worker: build/bundle-main.mjs into a scratch folder, then the bundled CLI imports YAML large
// enough to be parsed in the worker (dist/main/environments-worker.cjs beside cli.js).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_WORKER_FILE, DEFAULT_INLINE_MAX_BYTES } from '../../main/environments/parse-off-thread';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
// Inside the repository, so that the bundle's external packages resolve from node_modules.
const outdir = path.join(root, 'node_modules', '.cache', `offhost-bundle-test-${process.pid}`);
let dataDir: string;

beforeAll(() => {
  execFileSync(process.execPath, ['build/bundle-main.mjs'], { cwd: root, env: { ...process.env, OFFHOST_BUNDLE_OUTDIR: outdir } });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bundle-'));
}, 60_000);

afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, OFFHOST_DATA_DIR: dataDir, OFFHOST_LOG_LEVEL: 'silent' };
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(outdir, 'main', 'cli.js'), ...args], { env, cwd: dataDir });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function yamlOf(n: number, title = 'Image'): string {
  let text = '';
  for (let i = 0; i < n; i++) text += `- name: ghcr.io/org/image-${i}:1\n  title: ${title} ${i}\n  python: { installations: [{ version: 3.11.${i % 9}, path: /opt/py/bin/python3 }] }\n`;
  return text;
}

describe('the bundled CLI', () => {
  it('ships the worker beside the bundle', () => {
    expect(fs.existsSync(path.join(outdir, 'main', BUNDLED_WORKER_FILE))).toBe(true);
  });

  it('imports YAML large enough for the worker, and reports the worker’s validation errors', async () => {
    const file = path.join(dataDir, 'big.yaml');
    fs.writeFileSync(file, yamlOf(1000));
    expect(fs.statSync(file).size).toBeGreaterThan(DEFAULT_INLINE_MAX_BYTES);
    const ok = await cli('environments', 'import', file);
    expect(ok.stderr).not.toMatch(/worker/i);
    expect(ok.stdout + ok.stderr).toMatch(/1000 created, 0 updated, 0 unchanged/);
    expect(ok.code).toBe(0);

    fs.writeFileSync(file, `${yamlOf(999)}- name: ghcr.io/org/bad:1\n  title: Bad\n  r: { installations: [{ version: four, path: /opt/R/bin/R }] }\n`);
    const bad = await cli('environments', 'import', file);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/"four" is not a version/);
    expect(bad.stderr).toContain('[999].r.installations[0].version');

    // And it really was the worker: without its file, the same import cannot run.
    fs.rmSync(path.join(outdir, 'main', BUNDLED_WORKER_FILE));
    fs.writeFileSync(file, yamlOf(1000, 'Renamed'));
    const missing = await cli('environments', 'import', file);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/Could not run the YAML parser worker/);
  }, 60_000);
});
