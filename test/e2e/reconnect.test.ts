// When the server goes away and comes back, the page reopens its event stream by itself and
// refetches, so a change made while it was disconnected still shows without a reload.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { expect, it } from 'vitest';
import { launchBrowser, reservePort, root, serve, type Served } from './harness';

it('shows what changed while the server was down, once it is back', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-restart-'));
  // The server comes back on the same port (the page's origin); one outside the ephemeral range,
  // so no other socket on the machine is given it while our server is down.
  const port = await reservePort();
  let served: Served = await serve({ dataDir, port, keepData: true });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    let down = false;
    let streamOpened = 0;
    const failedWhileDown: Request[] = [];
    const isStream = (r: Request) => new URL(r.url()).pathname === '/api/events';
    page.on('response', (r) => isStream(r.request()) && r.status() === 200 && streamOpened++);
    page.on('requestfailed', (r) => down && isStream(r) && failedWhileDown.push(r));
    await page.goto(served.loginUrl);
    await page.getByText('No environments yet').waitFor();
    await expect.poll(() => streamOpened).toBe(1);

    down = true;
    await served.stop();
    // Change the database directly, as another instance or the CLI would.
    const yaml = path.join(dataDir, 'import.yaml');
    fs.writeFileSync(yaml, '- name: ghcr.io/org/while-down:1\n  title: Added while down\n');
    execFileSync(process.execPath, ['dist/main/cli.js', 'environments', 'import', yaml], { cwd: root, env: { ...process.env, OFFHOST_DATA_DIR: dataDir, DATABASE_URL: '', PGHOST: '', PGDATABASE: '' } });

    // Stay down until the page has tried twice: EventSource's own reconnect, which fails and makes it
    // give up for good, then a new stream opened by our transport. Only that one can bring it back.
    await expect.poll(() => failedWhileDown.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => document.readyState)).toBe('complete');

    served = await serve({ dataDir, port, keepData: true });
    down = false;
    expect(served.url).toBe(`http://127.0.0.1:${port}/`);
    // Same session (it lives in the database), same page, no reload.
    await page.locator('tbody tr', { hasText: 'Added while down' }).waitFor({ timeout: 20_000 });
    expect(streamOpened).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
  } finally {
    await browser.close();
    await served.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
