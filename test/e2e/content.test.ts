// The Content page in a real browser against the headless server: upload a bundle built here
// with the `tar` package, see the environment chosen and why, change settings (an out-of-range
// value is refused next to its field), deploy and roll back, and the list following events.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import * as tar from 'tar';
import { afterAll, describe, expect, onTestFailed } from 'vitest';
import { appTest, screenshot, type App } from './harness';

const SEED = [
  '- name: ghcr.io/org/py311:1',
  '  title: Python 3.11',
  '  python: { installations: [{ version: 3.11.9, path: /opt/python/3.11.9/bin/python3 }] }',
  '- name: ghcr.io/org/py312:1',
  '  title: Python 3.12',
  '  python: { installations: [{ version: 3.12.4, path: /opt/python/3.12.4/bin/python3 }] }',
  '',
].join('\n');

// Tall enough that a screenshot shows the whole detail page (the page scrolls inside .main).
const context = { viewport: { width: 1360, height: 1700 }, colorScheme: 'light' as const };
const seeded = appTest({ context, seedYaml: SEED });

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-bundles-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

/** A FastAPI bundle as rsconnect writes it (manifest.json with checksums, then the files), as a .tar.gz file. */
async function fastapiBundle(name: string, opts: { python?: string; withManifest?: boolean; greeting?: string } = {}): Promise<string> {
  const dir = fs.mkdtempSync(path.join(work, 'src-'));
  const files: Record<string, string> = {
    'main.py': `from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/")\ndef root():\n    return {"hello": "${opts.greeting ?? 'world'}"}\n`,
    'requirements.txt': 'fastapi==0.115.0\nuvicorn\n',
  };
  const manifest = {
    version: 1,
    locale: 'en_US.UTF-8',
    metadata: { appmode: 'python-fastapi', entrypoint: 'main' },
    python: { version: opts.python ?? '3.11.7', package_manager: { name: 'pip', version: '23.2.1', package_file: 'requirements.txt' } },
    files: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, { checksum: md5(d) }])),
  };
  for (const [p, d] of Object.entries(files)) fs.writeFileSync(path.join(dir, p), d);
  const members = Object.keys(files);
  if (opts.withManifest !== false) {
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    members.unshift('manifest.json');
  }
  const file = path.join(work, name);
  await tar.c({ gzip: true, file, cwd: dir, portable: true }, members);
  return file;
}

const dialog = (page: Page) => page.locator('dialog[open]');
const settings = (page: Page) => page.locator('section[aria-labelledby="h-settings"]');

async function newContent(page: Page, name: string, bundle: string): Promise<void> {
  // A step that cannot happen fails with its own message, well before the test's timeout, and
  // leaves a picture of the page.
  page.setDefaultTimeout(15_000);
  onTestFailed(() => screenshot(page, `content-failed-${name}`).then(() => undefined));
  await page.goto(`${new URL(page.url()).origin}/#/content`);
  await page.getByRole('button', { name: '+ New content' }).first().click();
  await dialog(page).getByLabel('Name').fill(name);
  await dialog(page).getByLabel('Bundle').setInputFiles(bundle);
  await dialog(page).getByRole('button', { name: 'Upload and deploy' }).click();
}

interface ContentDetail {
  content: { guid: string; bundle_id: string | null; cpu_limit: number | null; memory_limit: number | null; environment_guid: string | null };
  bundles: { id: string; active: boolean }[];
  deploys: { bundle_id: string }[];
}
const detailOf = (app: App, guid: string) => app.call<ContentDetail>('content.get', { guid });
const guidOf = (page: Page) => new URL(page.url()).hash.replace('#/content/', '');

describe('Content page', () => {
  seeded('uploads a bundle, deploys it, and shows the chosen environment and why', async ({ app }) => {
    const { page } = app;
    await page.goto(`${app.served.url}#/content`);
    await page.getByText('No content yet').waitFor();
    await screenshot(page, 'content-01-empty');

    await newContent(page, 'sales-api', await fastapiBundle('good.tar.gz'));
    await page.getByRole('heading', { name: /sales-api/ }).waitFor();
    const guid = guidOf(page);
    expect(guid).toMatch(/^[0-9a-f-]{36}$/);

    // The manifest summary, and the environment a deploy gets with the selection's reasons.
    const summary = page.getByTestId('manifest-summary');
    await expect.poll(() => summary.textContent()).toContain('python-fastapi');
    expect(await summary.textContent()).toContain('3.11.7');
    const choice = page.getByTestId('environment-choice');
    await choice.waitFor();
    expect(await choice.locator('h3').textContent()).toBe('Python 3.11');
    expect(await choice.locator('.reasons li').count()).toBeGreaterThan(0);
    expect(await choice.locator('.reasons').textContent()).toMatch(/3\.11/);

    // Deployed: the bundle is active, the history has the deploy, and the server agrees.
    await page.locator('table[aria-label="Bundles"] tr[data-bundle]', { hasText: 'active' }).waitFor();
    await page.locator('table[aria-label="Deploy history"] tbody tr').first().waitFor();
    const d = await detailOf(app, guid);
    expect(d.bundles).toEqual([expect.objectContaining({ active: true })]);
    expect(d.content.bundle_id).toBe(d.bundles[0]!.id);
    await expect.poll(async () => (await detailOf(app, guid)).content.environment_guid).not.toBeNull();
    await page.getByText('Deployed in').waitFor();
    await screenshot(page, 'content-02-detail');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'content-02-detail-dark');
  });

  seeded('a bundle without manifest.json is refused next to the file, and nothing is stored', async ({ app }) => {
    const { page } = app;
    await page.goto(`${app.served.url}#/content`);
    await newContent(page, 'broken', await fastapiBundle('no-manifest.tar.gz', { withManifest: false }));
    const file = dialog(page).getByLabel('Bundle');
    await expect.poll(() => file.getAttribute('aria-invalid')).toBe('true');
    const message = page.locator(`[id="${await file.getAttribute('aria-describedby')}"]`);
    expect(await message.textContent()).toMatch(/manifest\.json/);
    await screenshot(page, 'content-03-bad-bundle');
    const list = await app.call<{ guid: string; name: string }[]>('content.list');
    expect(list.map((c) => c.name)).toEqual(['broken']);
    expect((await detailOf(app, list[0]!.guid)).bundles).toEqual([]);

    // A good bundle in the same dialog goes to the content already made (not a second one).
    await dialog(page).getByLabel('Bundle').setInputFiles(await fastapiBundle('fixed.tar.gz'));
    await dialog(page).getByRole('button', { name: 'Upload and deploy' }).click();
    await page.getByRole('heading', { name: /broken/ }).waitFor();
    expect((await app.call<unknown[]>('content.list')).length).toBe(1);
  });

  seeded('settings show their ranges; an out-of-range value is refused next to its field; a valid one is saved', async ({ app }) => {
    const { page } = app;
    await newContent(page, 'settings-app', await fastapiBundle('s.tar.gz'));
    await page.getByRole('heading', { name: /settings-app/ }).waitFor();
    const guid = guidOf(page);
    const form = settings(page);
    const cpuLimit = form.getByLabel('CPU limit');
    // The range and default from the quotas (built-in: 0.1–8 cores, default 1).
    await expect.poll(() => form.locator('.field').filter({ has: page.getByLabel('CPU limit') }).locator('.hint').textContent()).toMatch(/100m – 8 cores; empty: the default, 1 core/);

    await cpuLimit.fill('64');
    expect(await cpuLimit.getAttribute('aria-invalid')).toBe('true');
    const err = page.locator(`[id="${await cpuLimit.getAttribute('aria-describedby')}"]`);
    expect(await err.textContent()).toMatch(/above the maximum CPU limit of 8 cores/);
    expect(await form.getByRole('button', { name: 'Save settings' }).isDisabled()).toBe(true);
    // A request above its own limit is named on the request.
    await cpuLimit.fill('1');
    await form.getByLabel('CPU request').fill('2');
    expect(await form.getByLabel('CPU request').getAttribute('aria-invalid')).toBe('true');
    expect(await cpuLimit.getAttribute('aria-invalid')).toBeNull();
    await form.getByLabel('Max processes').fill('0');
    expect(await form.getByLabel('Max processes').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'content-04-settings-errors');
    expect((await detailOf(app, guid)).content.cpu_limit).toBeNull();

    await form.getByLabel('CPU request').fill('');
    await form.getByLabel('Max processes').fill('');
    await cpuLimit.fill('2');
    await form.getByLabel('Memory limit').fill('2Gi');
    await form.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved the execution settings.').waitFor();
    const saved = (await detailOf(app, guid)).content;
    expect(saved.cpu_limit).toBe(2);
    expect(saved.memory_limit).toBe(2 * 1024 ** 3);
    await expect.poll(() => form.getByLabel('Memory limit').inputValue()).toBe('2Gi');

    // The core's own per-field error lands next to the field too. To get one the form cannot
    // foresee, the page stops hearing events (so it keeps the old range) and the bound is lowered
    // on the server; the form lets 3 cores through, the core refuses it, naming the field.
    await page.route('**/api/events', (r) => r.abort());
    await page.reload();
    await expect.poll(() => form.locator('.field').filter({ has: page.getByLabel('CPU limit') }).locator('.hint').textContent()).toMatch(/100m – 8 cores/);
    const q = (await app.call<{ quotas: Record<string, unknown> }>('quotas.get')).quotas;
    await app.call('quotas.update', { quotas: { ...q, cpu_request: { min: 0.01, default: 0.5, max: 2 }, cpu_limit: { min: 0.1, default: 1, max: 2.5 } } });
    await cpuLimit.fill('3');
    expect(await cpuLimit.getAttribute('aria-invalid')).toBeNull();
    await form.getByRole('button', { name: 'Save settings' }).click();
    await expect.poll(() => cpuLimit.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`[id="${await cpuLimit.getAttribute('aria-describedby')}"]`).textContent()).toMatch(/above the maximum CPU limit of 2\.5 cores/);
    expect((await detailOf(app, guid)).content.cpu_limit).toBe(2);
  });

  seeded('deploys a newer bundle, then rolls back to the first', async ({ app }) => {
    const { page } = app;
    await newContent(page, 'rolling', await fastapiBundle('r1.tar.gz'));
    await page.getByRole('heading', { name: /rolling/ }).waitFor();
    const guid = guidOf(page);
    const bundles = page.locator('table[aria-label="Bundles"]');
    await bundles.locator('tr[data-bundle]').first().waitFor();

    await page.getByLabel('Bundle file').setInputFiles(await fastapiBundle('r2.tar.gz', { greeting: 'v2' }));
    await page.getByText(/Uploaded bundle #\d+/).waitFor();
    await expect.poll(() => bundles.locator('tr[data-bundle]').count()).toBe(2);
    const [first, second] = (await detailOf(app, guid)).bundles.map((b) => b.id).sort((a, b) => Number(a) - Number(b));
    await bundles.locator(`tr[data-bundle="${second}"]`).getByRole('button', { name: 'Deploy' }).click();
    await expect.poll(async () => (await detailOf(app, guid)).content.bundle_id).toBe(second);
    await bundles.locator(`tr[data-bundle="${second}"]`).getByText('active').waitFor();

    await bundles.locator(`tr[data-bundle="${first}"]`).getByRole('button', { name: 'Roll back' }).click();
    await expect.poll(async () => (await detailOf(app, guid)).content.bundle_id).toBe(first);
    await bundles.locator(`tr[data-bundle="${first}"]`).getByText('active').waitFor();
    await expect.poll(() => page.locator('table[aria-label="Deploy history"] tbody tr').count()).toBe(3);
    await screenshot(page, 'content-05-rollback');
  });

  seeded('the list follows events: content made elsewhere appears without a reload', async ({ app }) => {
    const { page } = app;
    await newContent(page, 'first-one', await fastapiBundle('l.tar.gz'));
    await page.getByRole('heading', { name: /first-one/ }).waitFor();
    await page.getByRole('link', { name: '← Content' }).click();
    const rows = page.locator('table[aria-label="Content"] tbody tr');
    await rows.first().waitFor();
    const requests: string[] = [];
    page.on('request', (r) => r.url().includes('/api/call/content.list') && requests.push(r.url()));
    for (let i = 0; i < 5; i++) await app.call('content.create', { name: `made-elsewhere-${i}`, title: `Made elsewhere ${i}` });
    await expect.poll(() => rows.count()).toBe(6);
    // Five events, far fewer refetches (they are batched).
    expect(requests.length).toBeLessThanOrEqual(3);
    const row = rows.filter({ hasText: 'first-one' });
    expect(await row.locator('td').nth(1).textContent()).toBe('python-fastapi');
    expect(await row.locator('td').nth(2).textContent()).toContain('Python 3.11');
    expect(await row.locator('.badge').textContent()).toBe('deployed');
    expect(await rows.filter({ hasText: 'Made elsewhere 0' }).locator('.badge').textContent()).toBe('not deployed');
    await screenshot(page, 'content-06-list');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'content-06-list-dark');
  });

  seeded('a long list stays quick: 400 items render at once, and a burst of changes is a few refetches', async ({ app }) => {
    const { page } = app;
    page.setDefaultTimeout(15_000);
    for (let i = 0; i < 400; i++) await app.call('content.create', { name: `item-${String(i).padStart(3, '0')}`, title: `Item ${i}` });
    const started = Date.now();
    await page.goto(`${app.served.url}#/content`);
    const rows = page.locator('table[aria-label="Content"] tbody tr');
    await expect.poll(() => rows.count()).toBe(400);
    const renderMs = Date.now() - started;
    const requests: string[] = [];
    page.on('request', (r) => r.url().includes('/api/call/content.list') && requests.push(r.url()));
    const burstStart = Date.now();
    for (let i = 0; i < 40; i++) await app.call('content.create', { name: `burst-${i}` });
    await expect.poll(() => rows.count()).toBe(440);
    const burstMs = Date.now() - burstStart;
    console.log(`content list: 400 rows shown ${renderMs} ms after navigation; 40 creates in ${burstMs} ms -> ${requests.length} list refetches`);
    expect(requests.length).toBeLessThan(20);
    // Filtering is local and immediate.
    await page.getByLabel('Filter content').fill('Item 39');
    await expect.poll(() => rows.count()).toBe(11);
  });
});
