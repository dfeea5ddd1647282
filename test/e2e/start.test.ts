// `npm start` where the Electron binary can't be had: one notice line, then the same app in browser
// mode — the headless server answers on the printed address, and the browser is asked to open it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root } from './harness';

it('without the Electron binary, npm start serves the app in browser mode on the printed address', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-start-'));
  // Stands in for the desktop's URL opener, to see what we ask it to open.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\necho "$@" > ${tmp}/opened\n`, { mode: 0o755 });
  const child = spawn(process.execPath, ['build/start-electron.mjs'], {
    cwd: root,
    env: {
      ...process.env,
      // Electron's own knob for where its binary is: nowhere, on any machine.
      ELECTRON_OVERRIDE_DIST_PATH: path.join(tmp, 'no-electron'),
      OFFHOST_DATA_DIR: path.join(tmp, 'data'),
      OFFHOST_PORT: '0',
      DATABASE_URL: '',
      PGHOST: '',
      PGDATABASE: '',
      DISPLAY: ':99',
      CI: '',
      PATH: `${bin}:${process.env.PATH}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c));
  child.stderr.on('data', (c: Buffer) => (output += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await expect.poll(() => /\?token=/.test(output), { timeout: 30_000 }).toBe(true);
    const loginUrl = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output)![1]!;
    const base = loginUrl.replace(/\?token=.*$/, '');

    const notices = output.split('\n').filter((l) => l.startsWith('Offhost:'));
    expect(notices).toEqual([`Offhost: ELECTRON_OVERRIDE_DIST_PATH has no ${path.join(tmp, 'no-electron', 'electron')}; starting the same app in your browser instead.`]);
    expect(output).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m); // no stack trace

    const health = await fetch(`${base}healthz`);
    expect(health.status).toBe(200);
    // The browser was asked to open the sign-in address, and that address signs in.
    await expect.poll(() => fs.existsSync(path.join(tmp, 'opened')) && fs.readFileSync(path.join(tmp, 'opened'), 'utf8').trim()).toBe(loginUrl);
    const signIn = await fetch(loginUrl, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = await fetch(base, { headers: { cookie, accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Offhost</title>');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`${base}healthz`)).rejects.toThrow();
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
