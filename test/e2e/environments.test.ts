// The Environments dashboard in a real browser against `npm run serve`.
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { screenshot, serve, signedInPage, type Served } from './harness';

let served: Served;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  served = await serve({ PGHOST: '', PGDATABASE: '' });
  ({ browser, page } = await signedInPage(served, { viewport: { width: 1360, height: 860 }, colorScheme: 'light', acceptDownloads: true }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await served?.stop();
});

/** What the server has, asked through the same session the page uses. */
async function listed(): Promise<{ title: string; name: string; python: { installations: { version: string }[] } }[]> {
  const res = await page.request.post(`${served.url}api/call/environments.list`, { data: {} });
  return (await res.json()).result;
}

const dialog = () => page.locator('dialog[open]');
const row = (title: string) => page.locator('table[aria-label="Environments"] tbody tr', { hasText: title });

describe('Environments dashboard', () => {
  it('signs in from the printed URL and shows the empty state', async () => {
    expect(new URL(page.url()).search).toBe('');
    await page.getByRole('heading', { name: 'Environments', exact: true }).waitFor();
    await page.getByText('No environments yet').waitFor();
    await screenshot(page, '01-empty');
  });

  it('a bad version shows its error next to the field, and nothing is saved', async () => {
    await page.getByRole('button', { name: '+ New environment' }).first().click();
    await dialog().getByLabel('Image').fill('ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy');
    await dialog().getByLabel('Title').fill('R 4.3 / Python 3.11');
    await dialog().getByRole('button', { name: 'Add Python installation' }).click();
    const python = dialog().locator('[data-language="python"]');
    await python.getByLabel('Version').fill('3.x');
    await python.getByLabel('Path').fill('/opt/python/3.11.9/bin/python3');
    await dialog().getByRole('button', { name: 'Add R installation' }).click();
    const r = dialog().locator('[data-language="r"]');
    await r.getByLabel('Version').fill('4.3.1');
    await r.getByLabel('Path').fill('/opt/R/4.3.1/bin/R');
    await dialog().getByRole('button', { name: 'Create environment' }).click();

    const version = python.getByLabel('Version');
    await expect.poll(() => version.getAttribute('aria-invalid')).toBe('true');
    const errorId = await version.getAttribute('aria-describedby');
    const error = page.locator(`[id="${errorId}"]`);
    expect(await error.textContent()).toMatch(/"3\.x" is not a version/);
    // The message sits right under its own input, inside the same field.
    expect(await error.evaluate((el) => el.parentElement!.querySelector('input')!.value)).toBe('3.x');
    expect(await r.getByLabel('Version').getAttribute('aria-invalid')).toBeNull();
    await screenshot(page, '02-version-error');
    expect(await listed()).toEqual([]);
  });

  it('creates the environment once the version is fixed, and shows it in the table', async () => {
    await dialog().locator('[data-language="python"]').getByLabel('Version').fill('3.11.9');
    await dialog().getByRole('button', { name: 'Create environment' }).click();
    await dialog().waitFor({ state: 'detached' });
    const created = row('R 4.3 / Python 3.11');
    await created.waitFor();
    expect(await created.locator('.image-ref').textContent()).toBe('ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy');
    expect(await created.locator('.chip').allTextContents()).toEqual(['R 4.3.1', 'Python 3.11.9']);
    expect(await created.locator('.badge').textContent()).toBe('any');
    const saved = await listed();
    expect(saved).toHaveLength(1);
    expect(saved[0]!.python.installations.map((i) => i.version)).toEqual(['3.11.9']);
    await screenshot(page, '03-created');
  });

  it('refuses a duplicate image with the error on the image field', async () => {
    await page.getByRole('button', { name: '+ New environment' }).click();
    await dialog().getByLabel('Image').fill('ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy');
    await dialog().getByLabel('Title').fill('Copy');
    await dialog().getByRole('button', { name: 'Create environment' }).click();
    const image = dialog().getByLabel('Image');
    await expect.poll(() => image.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`[id="${await image.getAttribute('aria-describedby')}"]`).textContent()).toMatch(/already exists/);
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect(await listed()).toHaveLength(1);
  });

  it('edits the title and matching', async () => {
    await row('R 4.3 / Python 3.11').getByRole('button', { name: 'Edit' }).click();
    expect(await dialog().getByLabel('Image').isDisabled()).toBe(true);
    await dialog().getByLabel('Title').fill('Base image');
    await dialog().getByLabel('Matching').selectOption('exact');
    await screenshot(page, '04-edit-form');
    await dialog().getByRole('button', { name: 'Save changes' }).click();
    await dialog().waitFor({ state: 'detached' });
    await row('Base image').waitFor();
    expect(await row('Base image').locator('.badge').textContent()).toBe('exact');
    expect((await listed())[0]!.title).toBe('Base image');
  });

  it('imports YAML and updates the table live', async () => {
    await page.getByRole('button', { name: 'Import YAML' }).click();
    await dialog()
      .getByLabel('YAML', { exact: true })
      .fill(
        [
          '- name: ghcr.io/org/quarto:1.5',
          '  title: Quarto 1.5',
          '  quarto: { installations: [{ version: 1.5.57, path: /opt/quarto/1.5.57/bin/quarto }] }',
          '- name: ghcr.io/org/py312:1',
          '  title: Python 3.12',
          '  python: { installations: [{ version: 3.12.4, path: /opt/python/3.12.4/bin/python3 }] }',
        ].join('\n'),
      );
    await dialog().getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByText('Imported: 2 created, 0 updated, 0 unchanged.').waitFor();
    await row('Quarto 1.5').waitFor();
    await row('Python 3.12').waitFor();
    await screenshot(page, '05-imported');
  });

  it('a bad YAML import names the entry and changes nothing', async () => {
    await page.getByRole('button', { name: 'Import YAML' }).click();
    await dialog().getByLabel('YAML', { exact: true }).fill('- name: ghcr.io/org/new:1\n  title: New\n- name: ghcr.io/org/bad:1\n  title: ""\n');
    await dialog().getByRole('button', { name: 'Import', exact: true }).click();
    await dialog().getByRole('alert').waitFor();
    expect(await dialog().getByRole('alert').textContent()).toMatch(/title is required.*\(at \[1\]\.title\)/);
    await dialog().getByRole('button', { name: 'Cancel' }).click();
    expect(await listed()).toHaveLength(3);
  });

  it('exports YAML as a download', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export YAML' }).click()]);
    expect(download.suggestedFilename()).toBe('environments.yaml');
    const text = fs.readFileSync((await download.path())!, 'utf8');
    expect(text).toContain('name: ghcr.io/org/quarto:1.5');
    expect(text).toContain('title: Base image');
  });

  it('tells which environment a manifest would get, and why', async () => {
    await page.getByRole('button', { name: 'Which environment?' }).click();
    await dialog().getByLabel('manifest.json').fill(JSON.stringify({ version: 1, python: { version: '3.12.1' } }));
    await dialog().getByRole('button', { name: 'Test' }).click();
    const result = dialog().getByTestId('selection-result');
    await result.waitFor();
    expect(await result.locator('h2').textContent()).toBe('Python 3.12');
    expect(await result.textContent()).toMatch(/Python 3\.12\.4 for 3\.12\.1 requested by manifest python\.version: same major\.minor, newer patch/);
    await screenshot(page, '06-selection');

    await dialog().getByLabel('manifest.json').fill(JSON.stringify({ version: 1, python: { version: '3.9.0' } }));
    await dialog().getByRole('button', { name: 'Test' }).click();
    await expect.poll(() => result.locator('h2').textContent()).toBe('No environment fits');
    expect(await result.textContent()).toMatch(/it needs Python 3\.9\.x/);
    await screenshot(page, '07-selection-none');
    await dialog().getByRole('button', { name: 'Close' }).first().click();
  });

  it('deletes after confirmation', async () => {
    await row('Quarto 1.5').getByRole('button', { name: 'Delete' }).click();
    expect(await dialog().textContent()).toMatch(/Quarto 1\.5.*will no longer be offered/);
    await screenshot(page, '08-delete-confirm');
    await dialog().getByRole('button', { name: 'Delete' }).click();
    await row('Quarto 1.5').waitFor({ state: 'detached' });
    expect((await listed()).map((e) => e.title).sort()).toEqual(['Base image', 'Python 3.12']);
  });

  it('follows the OS dark theme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(14, 18, 23)');
    await screenshot(page, '09-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(245, 246, 248)');
  });

  it('the other pages say what is coming; Settings shows where data lives', async () => {
    await page.getByRole('link', { name: 'Processes' }).click();
    await page.getByRole('heading', { name: 'Processes' }).waitFor();
    expect(await page.locator('.coming').textContent()).toMatch(/not built yet/);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('Headless server').waitFor();
    expect(await page.locator('.kv').textContent()).toContain(served.dataDir);
    await screenshot(page, '10-settings');
  });

  it('loads with the strict CSP and no console errors', async () => {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${served.url}?fresh=1#/environments`);
    expect(res!.headers()['content-security-policy']).toContain("script-src 'self'");
    await row('Base image').waitFor();
    expect(errors).toEqual([]);
  });
});
