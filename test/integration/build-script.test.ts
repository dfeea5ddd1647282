// The build script itself, run by sh on this machine (paths moved from /opt/offhost into a temp
// directory; the host's python3 stands in for the image's): the first build makes the venv and
// marks the library ready; two builds of one library at once restore it once — the second waits
// on the lock and then reuses; a failing restore leaves no marker and releases the lock.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_PACKAGE_SOURCES } from '../../shared/package-sources';
import { READY_MARKER, RESTORE_LOCK, jobCommand, type ExecSpec } from '../../main/kube/commands';
import { JOB_VOLUME_PATH } from '../../main/content/volume';

const python = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => fs.existsSync(p));
const venvWorks = python !== undefined && spawnSyncOk(python, ['-c', 'import venv, ensurepip']);

function spawnSyncOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function spec(over: Partial<ExecSpec> = {}): ExecSpec {
  return {
    kind: 'build',
    mode: 'python-fastapi',
    entrypoint: null,
    primaryDocument: null,
    python: python ?? '/usr/bin/python3',
    r: null,
    quarto: null,
    languages: ['python'],
    pythonPackageFile: 'requirements.txt',
    hasRenvLock: false,
    rPackages: [],
    hideAllInput: false,
    hideTaggedInput: false,
    supervisor: null,
    sources: { ...DEFAULT_PACKAGE_SOURCES, python_no_index: true, python_find_links: ['file:///nowhere'] },
    libraryKey: 'lib-test',
    ...over,
  };
}

describe.skipIf(!venvWorks)('the build script, run by sh', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-script-'));
    for (const d of ['bundle', 'library', 'work']) fs.mkdirSync(path.join(root, d));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  function run(over: Partial<ExecSpec> = {}): { done: Promise<{ code: number | null; out: string }>; out: () => string } {
    const c = jobCommand(spec(over));
    if (!c.ok) throw new Error(c.message);
    const script = c.script.split(JOB_VOLUME_PATH).join(root);
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    return { out: () => out, done: new Promise((resolve) => child.on('close', (code) => resolve({ code, out }))) };
  }

  it('two builds of one library: one restores, the other waits on the lock and reuses', async () => {
    const a = run();
    // Wait until the first holds the lock, then start the second.
    for (let i = 0; i < 200 && !fs.existsSync(path.join(root, 'library', RESTORE_LOCK)); i++) await new Promise((r) => setTimeout(r, 25));
    expect(fs.existsSync(path.join(root, 'library', RESTORE_LOCK))).toBe(true);
    const b = run();
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.code, ra.out).toBe(0);
    expect(rb.code, rb.out).toBe(0);
    expect(ra.out).toContain('Creating a Python virtual environment');
    expect(ra.out).toContain('The bundle has no requirements.txt');
    expect(rb.out).toContain('Another build is restoring this package library; waiting for it');
    expect(rb.out).toMatch(/Reusing the package library lib-test \(restored .*\); nothing to restore\./);
    expect(rb.out).not.toContain('Creating a Python virtual environment');
    expect(fs.existsSync(path.join(root, 'library', READY_MARKER))).toBe(true);
    expect(fs.existsSync(path.join(root, 'library', RESTORE_LOCK))).toBe(false);
    expect(fs.existsSync(path.join(root, 'library', 'python', 'bin', 'python'))).toBe(true);
  }, 120_000);

  it('a failing restore leaves no marker and releases the lock', async () => {
    fs.writeFileSync(path.join(root, 'bundle', 'requirements.txt'), 'no-such-package-offhost==1.0\n');
    const r = await run().done;
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/No matching distribution found for no-such-package-offhost==1\.0/);
    expect(fs.existsSync(path.join(root, 'library', READY_MARKER))).toBe(false);
    expect(fs.existsSync(path.join(root, 'library', RESTORE_LOCK))).toBe(false);
  }, 120_000);
});
