// The built server as a person runs it: the sign-in address it prints works once, and no secret
// from a URL reaches its log. Needs the build (npm test builds first).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const serverJs = path.join(root, 'dist/main/server.js');
let dir: string;
let stdout = '';
let stderr = '';
let child: ReturnType<typeof spawn>;
let loginUrl: string;

beforeAll(async () => {
  if (!fs.existsSync(serverJs)) throw new Error(`${serverJs} is missing: run "npm run build" (npm test does it first).`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-serve-log-'));
  child = spawn(process.execPath, [serverJs, '--port', '0'], {
    env: { ...process.env, OFFHOST_DATA_DIR: dir, DATABASE_URL: '', OFFHOST_LOG_LEVEL: 'info', OFFHOST_ENVIRONMENTS_FILE: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  loginUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no sign-in address after 20 s:\n${stderr}`)), 20_000);
    const check = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${stderr}`)));
  });
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('npm run serve', () => {
  it('prints a sign-in address that works once and never logs a secret from a URL', async () => {
    const token = new URL(loginUrl).searchParams.get('token')!;
    expect(stderr).toMatch(/works once|signs you in once/);
    const first = await fetch(loginUrl, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect((await fetch(loginUrl, { redirect: 'manual' })).status).toBe(401);
    const base = loginUrl.replace(/\?.*$/, '');
    await fetch(`${base}api/events?password=hunter2&key=ohk_secret`);

    // The log is written as requests finish; wait for the last one.
    const deadline = Date.now() + 5000;
    while (!stdout.includes('password=***') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(stdout).toContain('token=***');
    expect(stdout).toContain('password=***');
    for (const secret of [token, 'hunter2', 'ohk_secret']) expect(stdout + stderr.replace(loginUrl, '')).not.toContain(secret);
    // Each line is JSON, as documented.
    for (const line of stdout.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});
