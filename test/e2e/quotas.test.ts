// The Quotas page in a real browser against the headless server: live validation next to each
// field, the impact of an edit before saving, saving with the previewed version (and the 409 when
// someone saved in between), the audit trail, and the LimitRange state quotas.get reports.
import type { Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { appTest, screenshot, type App } from './harness';

const context = { viewport: { width: 1360, height: 1500 }, colorScheme: 'light' as const };
const quotasTest = appTest({ context });

const bounds = (page: Page, resource: string) => page.getByRole('group', { name: resource });
const errorOf = async (page: Page, input: ReturnType<Page['getByLabel']>) => page.locator(`[id="${await input.getAttribute('aria-describedby')}"]`).textContent();

async function open(app: App): Promise<Page> {
  const { page } = app;
  page.setDefaultTimeout(15_000);
  await page.goto(`${app.served.url}#/quotas`);
  await page.getByRole('heading', { name: 'Bounds' }).waitFor();
  return page;
}

interface View {
  version: number;
  quotas: { cpu_limit: { max: number }; max_concurrent_jobs: number } & Record<string, unknown>;
}

describe('Quotas page', () => {
  quotasTest('validates each field as you type, shows the impact, saves, and lists the change', async ({ app }) => {
    // Two content items: one asks for 6 cores (inside today's 8), one takes the defaults.
    const big = await app.call<{ guid: string }>('content.create', { name: 'big-model', title: 'Big model', cpu_limit: 6 });
    await app.call('content.create', { name: 'small-report' });
    const page = await open(app);
    expect(await page.getByTestId('limit-range').textContent()).toMatch(/No cluster is configured/);
    expect(await page.getByText('Change a bound to see which content it affects').count()).toBe(1);
    await screenshot(page, 'quotas-01-start');

    const cpuMax = bounds(page, 'CPU limit').getByLabel('Max');
    expect(await cpuMax.inputValue()).toBe('8');
    // Not a quantity: refused next to the field, and nothing can be saved.
    await cpuMax.fill('lots');
    expect(await cpuMax.getAttribute('aria-invalid')).toBe('true');
    expect(await errorOf(page, cpuMax)).toMatch(/"cpu_limit\.max" "lots" is not valid/);
    expect(await page.getByRole('button', { name: 'Save quotas' }).isDisabled()).toBe(true);
    // Below the default (1 core): the default is the one named.
    await cpuMax.fill('500m');
    expect(await cpuMax.getAttribute('aria-invalid')).toBeNull();
    const cpuDefault = bounds(page, 'CPU limit').getByLabel('Default');
    expect(await cpuDefault.getAttribute('aria-invalid')).toBe('true');
    expect(await errorOf(page, cpuDefault)).toMatch(/default CPU limit, 1 core, is above the maximum, 0\.5 cores/);
    const jobs = page.getByLabel('Max concurrent jobs');
    await jobs.fill('0');
    expect(await errorOf(page, jobs)).toMatch(/whole number from 1 to 10000/);
    await page.getByLabel('Allowed service accounts').fill('Reports_SA');
    expect(await errorOf(page, page.getByLabel('Allowed service accounts'))).toMatch(/not a valid service account name/);
    await screenshot(page, 'quotas-02-errors');

    // A valid edit: max 4 cores leaves "Big model" outside (clamped at launch), and a new default.
    await cpuMax.fill('4');
    await jobs.fill('10');
    await page.getByLabel('Allowed service accounts').fill('reports-sa, etl');
    await page.getByLabel('Default service account').selectOption('reports-sa');
    const impact = page.getByTestId('quota-impact');
    await impact.waitFor();
    expect(await impact.textContent()).toMatch(/1 of 2 content items falls outside the new bounds/);
    const affected = impact.getByRole('list', { name: 'Affected content' }).locator(':scope > li');
    expect(await affected.count()).toBe(1);
    expect(await affected.first().textContent()).toMatch(/Big model.*Clamped:.*cpu_limit 6 cores is above the maximum; the launch uses 4 cores/);
    expect(await affected.first().locator('a').getAttribute('href')).toBe(`#/content/${big.guid}`);
    expect(await impact.textContent()).toMatch(/Default service account: none → reports-sa, for 2 content items that set none/);
    await screenshot(page, 'quotas-03-impact');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'quotas-03-impact-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    // Nothing saved by previewing.
    expect((await app.call<View>('quotas.get')).version).toBe(0);

    await page.getByRole('button', { name: 'Save quotas' }).click();
    await page.getByText('Saved (version 1).').waitFor();
    const saved = await app.call<View & { quotas: { service_accounts: unknown } }>('quotas.get');
    expect(saved.quotas.cpu_limit.max).toBe(4);
    expect(saved.quotas.max_concurrent_jobs).toBe(10);
    expect(saved.quotas.service_accounts).toEqual({ allowed: ['reports-sa', 'etl'], default: 'reports-sa' });

    // The audit trail: who, when, before -> after.
    const rows = page.locator('table[aria-label="Quota changes"] tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    const text = await rows.first().textContent();
    expect(text).toMatch(/session #\d+/);
    expect(text).toMatch(/CPU limit max: 8 cores → 4 cores/);
    expect(text).toMatch(/Max concurrent jobs: 20 → 10/);
    expect(text).toMatch(/Allowed service accounts: none → reports-sa, etl/);
    expect(text).toMatch(/Default service account: none → reports-sa/);
    expect(await page.getByText('Change a bound to see which content it affects').count()).toBe(1);
    await screenshot(page, 'quotas-04-saved');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshot(page, 'quotas-04-saved-dark');
  });

  quotasTest('a save by someone else since the preview is a conflict to reload, not an overwrite', async ({ app }) => {
    const page = await open(app);
    await bounds(page, 'Memory limit').getByLabel('Max').fill('24Gi');
    await page.getByTestId('quota-impact').waitFor();
    expect(await page.getByTestId('quota-impact').textContent()).toMatch(/There is no content yet/);

    // Someone else saves meanwhile (the API, as a script would).
    const now = await app.call<View>('quotas.get');
    await app.call('quotas.update', { quotas: { ...now.quotas, max_concurrent_jobs: 7 }, version: now.version });
    const conflict = page.getByTestId('quota-conflict');
    await conflict.waitFor();
    expect(await conflict.textContent()).toMatch(/Someone saved the quotas since you started editing \(now version 1/);
    expect(await page.getByRole('button', { name: 'Save quotas' }).isDisabled()).toBe(true);
    await screenshot(page, 'quotas-05-conflict');

    await conflict.getByRole('button', { name: 'Reload their values' }).click();
    await expect.poll(() => page.getByLabel('Max concurrent jobs').inputValue()).toBe('7');
    expect(await bounds(page, 'Memory limit').getByLabel('Max').inputValue()).toBe('32Gi');
    expect(await conflict.count()).toBe(0);
    expect((await app.call<View>('quotas.get')).quotas.max_concurrent_jobs).toBe(7);
  });

  quotasTest('a 409 from the server itself (the page missed the event) says so and offers to reload', async ({ app }) => {
    const { page } = app;
    // The page hears no events, so only the save can find out about the other change.
    await page.route('**/api/events', (r) => r.abort());
    await open(app);
    await page.getByLabel('Max concurrent jobs').fill('12');
    await page.getByTestId('quota-impact').waitFor();
    const now = await app.call<View>('quotas.get');
    await app.call('quotas.update', { quotas: { ...now.quotas, max_concurrent_jobs: 7 }, version: now.version });
    await page.getByRole('button', { name: 'Save quotas' }).click();
    const conflict = page.getByTestId('quota-conflict');
    await conflict.waitFor();
    expect(await conflict.textContent()).toMatch(/changed by session #\d+ .* since version 0 was read/);
    expect((await app.call<View>('quotas.get')).quotas.max_concurrent_jobs).toBe(7);
    await conflict.getByRole('button', { name: 'Reload their values' }).click();
    await expect.poll(() => page.getByLabel('Max concurrent jobs').inputValue()).toBe('7');
  });
});
