// Environments from the declarative file show as managed and cannot be edited in the UI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import { appTest, screenshot } from './harness';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-file-'));
const file = path.join(dir, 'environments.yaml');
fs.writeFileSync(file, '- name: ghcr.io/org/from-file:1\n  title: From the file\n  matching: exact\n  r: { installations: [{ version: 4.4.1, path: /opt/R/4.4.1/bin/R }] }\n');
const it = appTest({ env: { OFFHOST_ENVIRONMENTS_FILE: file }, context: { viewport: { width: 1360, height: 700 } } });

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('marks file-managed environments and disables editing them; edits to the file show up live', async ({ app: { page } }) => {
  const row = page.locator('tbody tr', { hasText: 'From the file' });
  await row.waitFor();
  expect(await row.locator('.badge.managed').textContent()).toBe('managed');
  expect(await row.locator('.badge.managed').getAttribute('title')).toBe(`Defined in ${file}; change it there.`);
  expect(await row.getByRole('button', { name: 'Edit' }).isDisabled()).toBe(true);
  expect(await row.getByRole('button', { name: 'Delete' }).isDisabled()).toBe(true);
  await screenshot(page, '11-managed');

  fs.writeFileSync(file, '- name: ghcr.io/org/from-file:1\n  title: Renamed in the file\n');
  await page.locator('tbody tr', { hasText: 'Renamed in the file' }).waitFor({ timeout: 10_000 });
});
