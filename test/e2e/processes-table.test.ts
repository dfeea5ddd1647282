// The Processes table with 5,000 active jobs, live: the real page behind a desktop bridge that
// answers 5,000 jobs and pushes events (test/bench/processes-table/: the benchmark's page). Jobs
// that appear above the view leave the rows being read where they are and the selection on its
// job; a burst that re-sorts the rows never makes the view jump; the keyboard moves the
// selection and scrolls it into view; the grid passes axe with 5,000 rows.
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeViolations, seriousViolations } from './axe';
import { launchBrowser, screenshot } from './harness';
import { bundlePage } from './page-bundle';

let browser: Browser;
let page: Page;
beforeAll(async () => {
  const [html, b] = await Promise.all([bundlePage(path.join(__dirname, '..', 'bench', 'processes-table', 'entry.tsx')), launchBrowser()]);
  browser = b;
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.setDefaultTimeout(15_000);
  await page.setContent(html);
  await page.evaluate(() => window.bench.firstPaint());
});
afterAll(() => browser?.close());

const grid = () => page.getByRole('grid', { name: 'Jobs' });
const selectedKey = () => grid().locator('[aria-selected=true]').getAttribute('data-key');

it('keeps the rows in view and the selection when jobs appear above', async () => {
  expect(await grid().getAttribute('aria-rowcount')).toBe('5001');
  // Down into the middle of the running jobs, and pick a row there.
  await grid().evaluate((el) => (el.scrollTop = 46 * 1500));
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[role=grid]')!.scrollTop > 0);
  const target = grid().locator('.vt-body [role=row]').nth(8);
  await target.click();
  const picked = await target.getAttribute('data-key');
  expect(await selectedKey()).toBe(picked);
  const before = await page.evaluate(() => window.bench.firstVisible());

  await page.evaluate(() => window.bench.addJobs(25));
  expect(await grid().getAttribute('aria-rowcount')).toBe('5026');
  const after = await page.evaluate(() => window.bench.firstVisible());
  expect(after.key).toBe(before.key);
  expect(Math.abs(after.top - before.top)).toBeLessThanOrEqual(1);
  expect(after.scrollTop - before.scrollTop).toBe(25 * 46);
  expect(await selectedKey()).toBe(picked);
  await screenshot(page, 'processes-09-5000-jobs-light');
});

it('a burst that re-sorts the rows never makes the view jump; the keyboard moves the selection into view', async () => {
  await page.evaluate(() => window.bench.sortBy('CPU'));
  await grid().evaluate((el) => (el.scrollTop = 46 * 800));
  await page.waitForFunction(() => document.querySelector<HTMLElement>('[role=grid]')!.scrollTop === 46 * 800);
  // After each burst the view either stays where it was, or — when the rows in view kept their
  // order and only rows above them moved out or in — follows those rows: never a jump elsewhere.
  for (let i = 0; i < 5; i++) {
    const before = await page.evaluate(() => window.bench.firstVisible());
    const r = await page.evaluate(() => window.bench.burst(500));
    expect(r.versions).toBe(1);
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    const after = await page.evaluate(() => window.bench.firstVisible());
    const followed = after.key === before.key && Math.abs(after.top - before.top) <= 1;
    expect(followed || after.scrollTop === before.scrollTop, `${JSON.stringify(before)} → ${JSON.stringify(after)}`).toBe(true);
  }
  // The keyboard: End goes to the last row and shows it; Home back to the first.
  await grid().focus();
  await page.keyboard.press('End');
  await expect.poll(() => grid().locator('[aria-selected=true]').getAttribute('aria-rowindex')).toBe('5026');
  await page.keyboard.press('Home');
  await expect.poll(() => grid().locator('[aria-selected=true]').getAttribute('aria-rowindex')).toBe('2');
  expect(await grid().evaluate((el) => el.scrollTop)).toBe(0);
  await page.keyboard.press('PageDown');
  expect(Number(await grid().locator('[aria-selected=true]').getAttribute('aria-rowindex'))).toBeGreaterThan(8);
});

it('passes axe with 5,000 rows, in light and dark', async () => {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    const found = await seriousViolations(page);
    expect(found, describeViolations(found)).toEqual([]);
  }
  await screenshot(page, 'processes-09-5000-jobs-dark');
});
