// The Environments dashboard in a real browser against the headless server. Each test has its own
// server, data and page (the `app` fixture), so any one of them can run alone.
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { appTest, screenshot, type App } from './harness';

const BASE_IMAGE = 'ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy';
/** Three environments, as the earlier tests of the old, order-dependent version left them. */
const SEED = [
  `- name: ${BASE_IMAGE}`,
  '  title: Base image',
  '  matching: exact',
  '  r: { installations: [{ version: 4.3.1, path: /opt/R/4.3.1/bin/R }] }',
  '  python: { installations: [{ version: 3.11.9, path: /opt/python/3.11.9/bin/python3 }] }',
  '- name: ghcr.io/org/quarto:1.5',
  '  title: Quarto 1.5',
  '  quarto: { installations: [{ version: 1.5.57, path: /opt/quarto/1.5.57/bin/quarto }] }',
  '- name: ghcr.io/org/py312:1',
  '  title: Python 3.12',
  '  python: { installations: [{ version: 3.12.4, path: /opt/python/3.12.4/bin/python3 }] }',
  '',
].join('\n');

const context = { viewport: { width: 1360, height: 860 }, colorScheme: 'light' as const, acceptDownloads: true };
const empty = appTest({ context });
const seeded = appTest({ context, seedYaml: SEED });

interface Listed {
  title: string;
  name: string;
  python: { installations: { version: string }[] };
}
const listed = (app: App) => app.call<Listed[]>('environments.list');
const dialog = (page: Page) => page.locator('dialog[open]');
const row = (page: Page, title: string) => page.locator('table[aria-label="Environments"] tbody tr', { hasText: title });

/** Fills the "New environment" form: R 4.3.1 and Python at `pythonVersion`. */
async function fillNewEnvironment(page: Page, pythonVersion: string): Promise<void> {
  await page.getByRole('button', { name: '+ New environment' }).first().click();
  await dialog(page).getByLabel('Image').fill(BASE_IMAGE);
  await dialog(page).getByLabel('Title').fill('R 4.3 / Python 3.11');
  await dialog(page).getByRole('button', { name: 'Add Python installation' }).click();
  const python = dialog(page).locator('[data-language="python"]');
  await python.getByLabel('Version').fill(pythonVersion);
  await python.getByLabel('Path').fill('/opt/python/3.11.9/bin/python3');
  await dialog(page).getByRole('button', { name: 'Add R installation' }).click();
  const r = dialog(page).locator('[data-language="r"]');
  await r.getByLabel('Version').fill('4.3.1');
  await r.getByLabel('Path').fill('/opt/R/4.3.1/bin/R');
}

describe('Environments dashboard', () => {
  empty('signs in from the printed URL and shows the empty state', async ({ app: { page } }) => {
    expect(new URL(page.url()).search).toBe('');
    await page.getByRole('heading', { name: 'Environments', exact: true }).waitFor();
    await page.getByText('No environments yet').waitFor();
    await screenshot(page, '01-empty');
  });

  empty('a bad version shows its error next to the field, and nothing is saved', async ({ app }) => {
    const { page } = app;
    await fillNewEnvironment(page, '3.x');
    await dialog(page).getByRole('button', { name: 'Create environment' }).click();

    const version = dialog(page).locator('[data-language="python"]').getByLabel('Version');
    await expect.poll(() => version.getAttribute('aria-invalid')).toBe('true');
    const errorId = await version.getAttribute('aria-describedby');
    const error = page.locator(`[id="${errorId}"]`);
    expect(await error.textContent()).toMatch(/"3\.x" is not a version/);
    // The message sits right under its own input, inside the same field.
    expect(await error.evaluate((el) => el.parentElement!.querySelector('input')!.value)).toBe('3.x');
    expect(await dialog(page).locator('[data-language="r"]').getByLabel('Version').getAttribute('aria-invalid')).toBeNull();
    await screenshot(page, '02-version-error');
    expect(await listed(app)).toEqual([]);
  });

  empty('creates the environment once the version is fixed, and shows it in the table', async ({ app }) => {
    const { page } = app;
    await fillNewEnvironment(page, '3.x');
    await dialog(page).getByRole('button', { name: 'Create environment' }).click();
    const version = dialog(page).locator('[data-language="python"]').getByLabel('Version');
    await expect.poll(() => version.getAttribute('aria-invalid')).toBe('true');

    await version.fill('3.11.9');
    await dialog(page).getByRole('button', { name: 'Create environment' }).click();
    await dialog(page).waitFor({ state: 'detached' });
    const created = row(page, 'R 4.3 / Python 3.11');
    await created.waitFor();
    expect(await created.locator('.image-ref').textContent()).toBe(BASE_IMAGE);
    expect(await created.locator('.chip').allTextContents()).toEqual(['R 4.3.1', 'Python 3.11.9']);
    expect(await created.locator('.badge').textContent()).toBe('any');
    const saved = await listed(app);
    expect(saved).toHaveLength(1);
    expect(saved[0]!.python.installations.map((i) => i.version)).toEqual(['3.11.9']);
    await screenshot(page, '03-created');
  });

  seeded('refuses a duplicate image with the error on the image field', async ({ app }) => {
    const { page } = app;
    await row(page, 'Base image').waitFor();
    await page.getByRole('button', { name: '+ New environment' }).click();
    await dialog(page).getByLabel('Image').fill(BASE_IMAGE);
    await dialog(page).getByLabel('Title').fill('Copy');
    await dialog(page).getByRole('button', { name: 'Create environment' }).click();
    const image = dialog(page).getByLabel('Image');
    await expect.poll(() => image.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`[id="${await image.getAttribute('aria-describedby')}"]`).textContent()).toMatch(/already exists/);
    await dialog(page).getByRole('button', { name: 'Cancel' }).click();
    expect(await listed(app)).toHaveLength(3);
  });

  seeded('edits the title and matching', async ({ app }) => {
    const { page } = app;
    await row(page, 'Base image').getByRole('button', { name: 'Edit' }).click();
    expect(await dialog(page).getByLabel('Image').isDisabled()).toBe(true);
    await dialog(page).getByLabel('Title').fill('Renamed base');
    await dialog(page).getByLabel('Matching').selectOption('any');
    await screenshot(page, '04-edit-form');
    await dialog(page).getByRole('button', { name: 'Save changes' }).click();
    await dialog(page).waitFor({ state: 'detached' });
    await row(page, 'Renamed base').waitFor();
    expect(await row(page, 'Renamed base').locator('.badge').textContent()).toBe('any');
    expect((await listed(app)).find((e) => e.name === BASE_IMAGE)!.title).toBe('Renamed base');
  });

  empty('imports YAML and updates the table live', async ({ app: { page } }) => {
    await page.getByText('No environments yet').waitFor();
    await page.getByRole('button', { name: 'Import YAML' }).click();
    await dialog(page)
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
    await dialog(page).getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByText('Imported: 2 created, 0 updated, 0 unchanged.').waitFor();
    await row(page, 'Quarto 1.5').waitFor();
    await row(page, 'Python 3.12').waitFor();
    await screenshot(page, '05-imported');
  });

  seeded('a bad YAML import names the entry and changes nothing', async ({ app }) => {
    const { page } = app;
    await row(page, 'Base image').waitFor();
    await page.getByRole('button', { name: 'Import YAML' }).click();
    await dialog(page).getByLabel('YAML', { exact: true }).fill('- name: ghcr.io/org/new:1\n  title: New\n- name: ghcr.io/org/bad:1\n  title: ""\n');
    await dialog(page).getByRole('button', { name: 'Import', exact: true }).click();
    await dialog(page).getByRole('alert').waitFor();
    expect(await dialog(page).getByRole('alert').textContent()).toMatch(/title is required.*\(at \[1\]\.title\)/);
    await dialog(page).getByRole('button', { name: 'Cancel' }).click();
    expect((await listed(app)).map((e) => e.title).sort()).toEqual(['Base image', 'Python 3.12', 'Quarto 1.5']);
  });

  seeded('exports YAML as a download', async ({ app: { page } }) => {
    await row(page, 'Base image').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export YAML' }).click()]);
    expect(download.suggestedFilename()).toBe('environments.yaml');
    const text = fs.readFileSync((await download.path())!, 'utf8');
    expect(text).toContain('name: ghcr.io/org/quarto:1.5');
    expect(text).toContain('title: Base image');
  });

  seeded('tells which environment a manifest would get, and why', async ({ app: { page } }) => {
    await row(page, 'Base image').waitFor();
    await page.getByRole('button', { name: 'Which environment?' }).click();
    await dialog(page).getByLabel('manifest.json').fill(JSON.stringify({ version: 1, python: { version: '3.12.1' } }));
    await dialog(page).getByRole('button', { name: 'Test' }).click();
    const result = dialog(page).getByTestId('selection-result');
    await result.waitFor();
    expect(await result.locator('h2').textContent()).toBe('Python 3.12');
    expect(await result.textContent()).toMatch(/Python 3\.12\.4 for 3\.12\.1 requested by manifest python\.version: same major\.minor, newer patch/);
    await screenshot(page, '06-selection');

    await dialog(page).getByLabel('manifest.json').fill(JSON.stringify({ version: 1, python: { version: '3.9.0' } }));
    await dialog(page).getByRole('button', { name: 'Test' }).click();
    await expect.poll(() => result.locator('h2').textContent()).toBe('No environment fits');
    expect(await result.textContent()).toMatch(/it needs Python 3\.9\.x/);
    await screenshot(page, '07-selection-none');
    await dialog(page).getByRole('button', { name: 'Close' }).first().click();
  });

  seeded('deletes after confirmation', async ({ app }) => {
    const { page } = app;
    await row(page, 'Quarto 1.5').getByRole('button', { name: 'Delete' }).click();
    expect(await dialog(page).textContent()).toMatch(/Quarto 1\.5.*will no longer be offered/);
    await screenshot(page, '08-delete-confirm');
    await dialog(page).getByRole('button', { name: 'Delete' }).click();
    await row(page, 'Quarto 1.5').waitFor({ state: 'detached' });
    expect((await listed(app)).map((e) => e.title).sort()).toEqual(['Base image', 'Python 3.12']);
  });

  seeded('follows the OS dark theme', async ({ app: { page } }) => {
    await row(page, 'Base image').waitFor();
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(14, 18, 23)');
    await screenshot(page, '09-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(245, 246, 248)');
  });

  empty('the Processes page says there are no jobs yet; Settings shows where data lives', async ({ app: { page, served } }) => {
    await page.getByRole('link', { name: 'Processes' }).click();
    await page.getByRole('heading', { name: 'Processes' }).waitFor();
    await page.getByRole('heading', { name: 'No jobs yet' }).waitFor();
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('Headless server').waitFor();
    expect(await page.locator('.kv').textContent()).toContain(served.dataDir);
    await screenshot(page, '10-settings');
  });

  seeded('loads with the strict CSP and no console errors', async ({ app: { page, served } }) => {
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    const res = await page.goto(`${served.url}?fresh=1#/environments`);
    expect(res!.headers()['content-security-policy']).toContain("script-src 'self'");
    await row(page, 'Base image').waitFor();
    expect(errors).toEqual([]);
  });
});
