// A job's page for a job killed for memory: the OOM moment marked on the memory chart over its
// limit line, the outcome in words, the timeline with the phase that never came, the kept log
// and the Warning event. The test cluster cannot make such a job for the server (KWOK kills for
// memory only when the pod is annotated at creation, and the server never annotates), so the page
// runs here behind a desktop bridge answering what the core answers for one (pages/job-oom.tsx);
// the OOM path itself is covered against the cluster by the launcher and metrics tests.
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeViolations, seriousViolations } from './axe';
import { launchBrowser, screenshot } from './harness';
import { bundlePage } from './page-bundle';

let browser: Browser;
let html: string;
beforeAll(async () => {
  [html, browser] = await Promise.all([bundlePage(path.join(__dirname, 'pages', 'job-oom.tsx')), launchBrowser()]);
});
afterAll(() => browser?.close());

it('marks the OOM kill on the memory chart and says what to do', async () => {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1400 } });
  page.setDefaultTimeout(15_000);
  await page.setContent(html);
  await page.getByRole('heading', { name: /Quarterly report · render/ }).waitFor();

  expect(await page.getByTestId('job-outcome').textContent()).toMatch(/Killed for running out of memory \(exit code 137\)\. Raise its memory limit/);
  expect(await page.getByTestId('oom-note').textContent()).toMatch(/Killed for running out of memory at .*\(512Mi\)\.$/);
  const memory = page.getByTestId('chart-memory');
  await memory.locator('.ref-oom line').waitFor({ state: 'attached' });
  expect(await memory.locator('.ref-label.oom').textContent()).toBe('OOM killed');
  expect(await memory.locator('.ref-label.limit').textContent()).toBe('limit 512 MiB');
  // The mark stands where the kill happened: right of the last sample, at the chart's end.
  const lastDot = await memory.locator('.recharts-line-dot').last().boundingBox();
  const mark = await memory.locator('.ref-oom line').boundingBox();
  expect(mark!.x).toBeGreaterThan(lastDot!.x);
  expect(await memory.getAttribute('data-points')).toBe('9');
  expect(await memory.locator('.recharts-line-dot').count()).toBe(9);
  expect(await memory.locator('figcaption').textContent()).toContain('504 MiB last');
  // The CPU chart has no OOM mark.
  expect(await page.getByTestId('chart-cpu').locator('.ref-oom').count()).toBe(0);

  const timeline = page.getByTestId('timeline');
  expect(await timeline.locator('li[data-phase=ready]').getAttribute('class')).toBe('skipped');
  expect(await timeline.locator('li[data-phase=finished]').getAttribute('class')).toBe('done');
  expect(await timeline.locator('li[data-phase=finished] .tl-took').textContent()).toBe('+2m 10s');
  expect(await page.getByTestId('log').textContent()).toContain('Killed');
  expect(await page.getByTestId('log-source').textContent()).toBe('3 lines · the copy kept after the pod ended');
  expect(await page.getByTestId('events').locator('li.warning').textContent()).toContain('OOMKilling');
  expect(await page.getByRole('button', { name: 'Cancel job…' }).count()).toBe(0);

  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await screenshot(page, `processes-07-job-oom-${scheme}`);
    const found = await seriousViolations(page);
    expect(found, describeViolations(found)).toEqual([]);
  }
  await page.close();
});
