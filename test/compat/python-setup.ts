// globalSetup of the compat project: a virtualenv with Posit's Python clients at the versions
// pinned in requirements.txt, built once from PyPI and cached under
// ~/.cache/offhost/python-clients/<hash>/ (the hash covers requirements.txt and the Python
// version, so a new pin or a new Python gets a new venv). It never throws: without Python or
// PyPI the compat tests fail with the reason.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The venv's directory; empty when it could not be made (then pythonClientsError says why). */
    pythonClients: string;
    pythonClientsError: string;
  }
}

const REQUIREMENTS = fileURLToPath(new URL('requirements.txt', import.meta.url));

/** OFFHOST_PYTHON, else python3 on PATH. */
export function pythonExecutable(env = process.env): string {
  return env.OFFHOST_PYTHON || 'python3';
}

function run(cmd: string, args: string[], timeoutMs: number): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' } });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return r.stdout;
}

/** The cached venv for these requirements, made when missing. Returns its path and whether it was made now. */
export function ensurePythonClients(cacheRoot = path.join(os.homedir(), '.cache', 'offhost', 'python-clients')): { dir: string; builtMs?: number } {
  const python = pythonExecutable();
  const version = run(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], 30_000).trim();
  const [major, minor] = version.split('.').map(Number);
  if (major! < 3 || (major === 3 && minor! < 9)) throw new Error(`${python} is Python ${version}; posit-sdk and rsconnect-python need 3.9 or newer (set OFFHOST_PYTHON).`);
  const hash = createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).update(`python ${version}`).digest('hex').slice(0, 16);
  const dir = path.join(cacheRoot, hash);
  if (fs.existsSync(path.join(dir, '.complete'))) return { dir };
  const started = Date.now();
  // Built in place (a venv's scripts name their own path, so it cannot be moved), with .complete
  // written last: a crashed build lacks it and is rebuilt from scratch next time.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(cacheRoot, { recursive: true });
  try {
    run(python, ['-m', 'venv', dir], 120_000);
    run(path.join(dir, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', '--no-deps', '-r', REQUIREMENTS], 600_000);
    run(path.join(dir, 'bin', 'python'), ['-m', 'pip', 'check'], 60_000);
    fs.writeFileSync(path.join(dir, '.complete'), `${new Date().toISOString()}\n`);
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, builtMs: Date.now() - started };
}

export default function setup(project: TestProject): void {
  const log = (line: string) => process.stderr.write(`[python-clients] ${line}\n`);
  try {
    const { dir, builtMs } = ensurePythonClients();
    log(builtMs === undefined ? `using ${dir}` : `built ${dir} from PyPI in ${(builtMs / 1000).toFixed(1)} s`);
    project.provide('pythonClients', dir);
    project.provide('pythonClientsError', '');
  } catch (e) {
    log(`unavailable: ${(e as Error).message}`);
    project.provide('pythonClients', '');
    project.provide('pythonClientsError', (e as Error).message);
  }
}
