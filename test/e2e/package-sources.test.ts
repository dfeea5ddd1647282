// Settings → Package sources in a real browser against the headless server: a bad URL is named
// next to its field with its line, nothing is sent; a good set is saved and read back by the API
// (what the next build job uses).
import { describe, expect } from 'vitest';
import { appTest, screenshot } from './harness';

const sourcesTest = appTest({ context: { viewport: { width: 1280, height: 1400 }, colorScheme: 'light' } });

describe('Settings: package sources', () => {
  sourcesTest('validates each field, saves, and the API returns what was saved', async ({ app }) => {
    const { page } = app;
    page.setDefaultTimeout(15_000);
    await page.goto(`${app.served.url}#/settings`);
    await page.getByRole('heading', { name: 'Package sources' }).waitFor();
    const findLinks = page.getByLabel('Find-links (pip --find-links), one per line');
    const repos = page.getByLabel('R repositories, one NAME=URL per line, in order');
    const save = page.getByRole('button', { name: 'Save package sources' });
    expect(await save.isDisabled()).toBe(true);

    await findLinks.fill('file:///packages/wheels\nftp://mirror/wheels');
    await page.getByLabel('Only the find-links (pip --no-index)').check();
    await repos.fill('CRAN=https://user:secret@cran.example.com');
    await save.click();
    expect(await findLinks.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator(`[id="${await findLinks.getAttribute('aria-describedby')}"]`).textContent()).toMatch(/^Line 2: .*must start with https:\/\/, http:\/\/ or file:\/\//);
    expect(await page.locator(`[id="${await repos.getAttribute('aria-describedby')}"]`).textContent()).toMatch(/Line 1: .*must not carry a user name or password/);
    await screenshot(page, 'package-sources-01-errors');
    // Nothing was sent.
    expect(await app.call('settings.packageSources.get')).toMatchObject({ python_find_links: [], python_no_index: false });

    await findLinks.fill('file:///packages/wheels');
    await repos.fill('CRAN=https://cran.example.com\ninternal=file:///srv/cran');
    await save.click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    expect(await findLinks.getAttribute('aria-invalid')).toBeNull();
    await screenshot(page, 'package-sources-02-saved');
    expect(await app.call('settings.packageSources.get')).toEqual({
      python_index_url: null,
      python_find_links: ['file:///packages/wheels'],
      python_no_index: true,
      r_repositories: [
        { name: 'CRAN', url: 'https://cran.example.com' },
        { name: 'internal', url: 'file:///srv/cran' },
      ],
    });
  });
});
