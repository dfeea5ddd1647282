// When the server goes away and comes back, the page reconnects its event stream by itself and
// refetches, so a change made while it was disconnected still shows without a reload.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { root, serve, signedInPage, type Served } from './harness';

let served: Served;
let browser: Browser;
let page: Page;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-restart-'));
const env = { PGHOST: '', PGDATABASE: '' };

beforeAll(async () => {
  served = await serve(env, { dataDir, keepData: true });
  ({ browser, page } = await signedInPage(served));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await served?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it('shows what changed while the server was down, once it is back', async () => {
  await page.getByText('No environments yet').waitFor();
  const port = Number(new URL(served.url).port);
  await served.stop();

  // Change the database directly, as another instance or the CLI would.
  const yaml = path.join(dataDir, 'import.yaml');
  fs.writeFileSync(yaml, '- name: ghcr.io/org/while-down:1\n  title: Added while down\n');
  execFileSync('node', ['dist/main/cli.js', 'environments', 'import', yaml], { cwd: root, env: { ...process.env, ...env, OFFHOST_DATA_DIR: dataDir, DATABASE_URL: '' } });

  // Stay down longer than EventSource's own retry, which then gives up; the transport must reopen it.
  await new Promise((r) => setTimeout(r, 5000));
  served = await serve(env, { dataDir, port, keepData: true });
  // Same session cookie (its secret is in the database), same page, no reload.
  await page.locator('tbody tr', { hasText: 'Added while down' }).waitFor({ timeout: 20_000 });
  expect(await page.evaluate(() => performance.getEntriesByType('navigation').length)).toBe(1);
});
