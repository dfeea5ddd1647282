// The Processes page and a job's page in a real browser against the headless server connected to a
// test cluster (the local control plane; KWOK plays the pods and emulates their usage, and
// metrics-server serves it as metrics.k8s.io): launch jobs, see them in the table with CPU and
// memory equal to the emulated usage, open one by keyboard, see its timeline and usage charts with
// points, its log and events, cancel it through the confirmation dialog. Every page is scanned with
// axe-core (no serious or critical violation) and photographed in light and dark
// (test-results/screenshots/processes-*.png).
//
// The cluster is this file's own (state directory OFFHOST_CLUSTER_STATE_DIR, default
// ~/.cache/offhost/cluster/run-e2e), started with pods that run 10 minutes using 250m CPU and
// 300Mi memory each, and stopped afterwards when it was started here; OFFHOST_TEST_KUBECONFIG
// names another cluster instead (its pods must then use that much too).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import * as tar from 'tar';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFailed } from 'vitest';
import { defaultStateDir, loadSettings, statePaths } from '../cluster/config';
import { down, kubectlPath, status, up, type ClusterState } from '../cluster/controlplane';
import { describeViolations, seriousViolations } from './axe';
import { appTest, screenshot, type App } from './harness';

const USAGE = { cpu: '250m', memory: '300Mi', cpuMillicores: 250, memoryBytes: 300 * 1024 ** 2 };
/** 245m to 255m as the table prints it (cells' texts run together: no word boundary after). */
const CPU_NOW = /(^|\D)2(4[5-9]|5[0-5])m/;
const SEED = ['- name: ghcr.io/org/py311:1', '  title: Python 3.11', '  python: { installations: [{ version: 3.11.9, path: /opt/python/3.11.9/bin/python3 }] }', ''].join('\n');
const context = { viewport: { width: 1440, height: 1000 }, colorScheme: 'light' as const };

async function scan(page: Page, name: string): Promise<void> {
  const found = await seriousViolations(page);
  expect(found, `${name}: ${describeViolations(found)}`).toEqual([]);
}

/** The page as it looks in light and in dark, each scanned with axe. */
async function photograph(page: Page, name: string): Promise<void> {
  await page.emulateMedia({ colorScheme: 'light' });
  await screenshot(page, `${name}-light`);
  await scan(page, `${name} (light)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await screenshot(page, `${name}-dark`);
  await scan(page, `${name} (dark)`);
  await page.emulateMedia({ colorScheme: 'light' });
}

const noCluster = appTest({ context });

describe('Processes without a cluster', () => {
  noCluster('says there is nothing yet and what to do; the theme can be chosen in Settings', async ({ app }) => {
    const { page } = app;
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${app.served.url}#/processes`);
    await page.getByRole('heading', { name: 'No jobs yet' }).waitFor();
    expect(await page.locator('.vt-empty').textContent()).toContain('Go to Content');
    const notice = page.getByTestId('metrics-notice');
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/No cluster is configured.*OFFHOST_KUBECONFIG/);
    await page.getByTestId('stat-running').filter({ hasText: '0' }).waitFor();
    await photograph(page, 'processes-01-empty');
    // Under the strict CSP, nothing the page does is refused or throws.
    expect(errors).toEqual([]);

    // Filters are labelled controls; a filter that matches nothing says how to undo it.
    await page.getByLabel('Search').fill('nothing-like-this');
    await page.getByRole('heading', { name: 'No job matches these filters' }).waitFor();
    await page.getByRole('button', { name: 'Clear filters' }).first().click();
    await page.getByRole('heading', { name: 'No jobs yet' }).waitFor();

    // Settings: the theme follows the system until one is chosen; the choice outlives a reload.
    await page.goto(`${app.served.url}#/settings`);
    await page.locator('.segmented label', { hasText: 'Dark' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.reload();
    await page.getByRole('radio', { name: 'Dark' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(14, 18, 23)');
    await scan(page, 'settings (dark chosen)');
    await screenshot(page, 'processes-02-settings-dark-chosen');
    await page.locator('.segmented label', { hasText: 'Same as the system' }).click();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBeUndefined();
  });
});

// --- with a cluster ------------------------------------------------------------------------------

let cluster: { kubeconfig: string; kubectl: string; startedHere: boolean; settings: ReturnType<typeof loadSettings> } | undefined;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-e2e-processes-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const kubectl = (...args: string[]) => execFileSync(cluster!.kubectl, args, { env: { ...process.env, KUBECONFIG: cluster!.kubeconfig }, encoding: 'utf8' });

/**
 * A namespace that enforces Pod Security "restricted", as content namespaces should, with the
 * content volume's claim: a PersistentVolumeClaim bound to a hostPath volume made for it (KWOK runs
 * nothing, so the server's own directory stands for the mounted volume: OFFHOST_CONTENT_VOLUME).
 */
function namespace(): { name: string; volumeDir: string } {
  const name = `e2e-proc-${randomUUID().slice(0, 8)}`;
  const volumeDir = fs.mkdtempSync(path.join(work, 'volume-'));
  kubectl('create', 'namespace', name);
  kubectl('label', 'namespace', name, 'pod-security.kubernetes.io/enforce=restricted');
  const manifest = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `${name}-content` },
        spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], storageClassName: 'manual', hostPath: { path: volumeDir }, claimRef: { namespace: name, name: 'content' } },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'content', namespace: name },
        spec: { accessModes: ['ReadWriteMany'], storageClassName: 'manual', volumeName: `${name}-content`, resources: { requests: { storage: '1Gi' } } },
      },
    ],
  };
  const file = path.join(work, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(manifest));
  kubectl('apply', '-f', file);
  return { name, volumeDir };
}

async function fastapiBundle(name: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(work, 'src-'));
  const files: Record<string, string> = { 'main.py': 'from fastapi import FastAPI\napp = FastAPI()\n', 'requirements.txt': 'fastapi\n' };
  const { createHash } = await import('node:crypto');
  const manifest = {
    version: 1,
    metadata: { appmode: 'python-fastapi', entrypoint: 'main' },
    python: { version: '3.11.7', package_manager: { name: 'pip', version: '23.2.1', package_file: 'requirements.txt' } },
    files: Object.fromEntries(Object.entries(files).map(([p, d]) => [p, { checksum: createHash('md5').update(d).digest('hex') }])),
  };
  for (const [p, d] of Object.entries(files)) fs.writeFileSync(path.join(dir, p), d);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const file = path.join(work, `${name}.tar.gz`);
  await tar.c({ gzip: true, file, cwd: dir, portable: true }, ['manifest.json', ...Object.keys(files)]);
  return file;
}

/** Content made and deployed through the API, as rsconnect would: its build job starts. */
async function deployed(app: App, name: string, title: string): Promise<string> {
  const content = await app.call<{ guid: string }>('content.create', { name, title });
  const archive = fs.readFileSync(await fastapiBundle(name)).toString('base64');
  const bundle = await app.call<{ id: string }>('content.uploadBundle', { guid: content.guid, archive });
  await app.call('content.deploy', { guid: content.guid, bundle_id: bundle.id });
  return content.guid;
}

interface Row {
  key: string;
  content_guid: string;
  state: string;
  usage: { cpu_millicores: number; memory_bytes: number } | null;
}

// Each test's server gets a namespace of its own (made when the test starts, by the getter).
let ns = '';
const onCluster = appTest({
  context,
  seedYaml: SEED,
  get env() {
    const made = namespace();
    ns = made.name;
    return {
      OFFHOST_KUBECONFIG: cluster!.kubeconfig,
      OFFHOST_NAMESPACE: made.name,
      OFFHOST_CONTENT_CLAIM: 'content',
      OFFHOST_CONTENT_VOLUME: made.volumeDir,
      OFFHOST_METRICS_INTERVAL: '5s',
    };
  },
});

describe('Processes on a cluster', () => {
  // Its pods run for 10 minutes: remove them with the namespace, so reruns on a kept cluster fit.
  afterEach(() => {
    if (!ns || !cluster) return;
    kubectl('delete', 'namespace', ns, '--wait=false');
    kubectl('delete', 'persistentvolume', `${ns}-content`, '--wait=false');
  });

  // Started only when a test of this block runs.
  beforeAll(async () => {
    const external = process.env.OFFHOST_TEST_KUBECONFIG;
    if (external) {
      cluster = { kubeconfig: path.resolve(external), kubectl: 'kubectl', startedHere: false, settings: loadSettings() };
      return;
    }
    const settings = loadSettings({
      OFFHOST_CLUSTER_STATE_DIR: `${defaultStateDir()}-e2e`,
      ...process.env,
      OFFHOST_CLUSTER_POD_RUN_TIME: '10m',
      OFFHOST_CLUSTER_POD_START_DELAY: '1s',
      OFFHOST_CLUSTER_DEFAULT_USAGE_CPU: USAGE.cpu,
      OFFHOST_CLUSTER_DEFAULT_USAGE_MEMORY: USAGE.memory,
    });
    const log = (m: string) => process.stderr.write(`[processes e2e cluster] ${m}\n`);
    const before = await status(settings);
    const state: ClusterState = await up(settings, { log });
    cluster = { kubeconfig: statePaths(settings.stateDir).kubeconfig, kubectl: kubectlPath(state), startedHere: !before.healthy, settings };
  }, 1_200_000);

  afterAll(async () => {
    if (cluster?.startedHere && process.env.OFFHOST_CLUSTER_KEEP !== '1') await down(cluster.settings);
  }, 120_000);


  onCluster('jobs with their emulated usage; a job’s timeline, charts, log and events; cancel', { timeout: 240_000 }, async ({ app }) => {
    const { page } = app;
    page.setDefaultTimeout(30_000);
    onTestFailed(() => {
      process.stderr.write(`server output:\n${app.served.output().slice(-4000)}\n`);
    });
    onTestFailed(() => screenshot(page, 'processes-failed').then(
      () => undefined,
      () => undefined,
    ));
    const guids = [await deployed(app, 'sales-api', 'Sales API'), await deployed(app, 'churn-model', 'Churn model'), await deployed(app, 'inventory', 'Inventory service')];

    await page.goto(`${app.served.url}#/processes`);
    const grid = page.getByRole('grid', { name: 'Jobs' });
    const rows = grid.locator('.vt-body [role=row]');
    // A FastAPI deploy is a build job and a run job that waits for it: three of each. The builds
    // run with the usage KWOK emulates, as metrics-server reports it.
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(6);
    await expect.poll(() => rows.filter({ hasText: 'running' }).count(), { timeout: 60_000 }).toBe(3);
    expect(await rows.filter({ hasText: 'queued' }).count()).toBe(3);
    // CPU is a rate metrics-server computes between two scrapes: 250m give or take its rounding.
    await expect.poll(() => rows.filter({ hasText: CPU_NOW }).count(), { timeout: 120_000 }).toBe(3);
    await expect.poll(() => rows.filter({ hasText: '300 MiB' }).count(), { timeout: 30_000 }).toBe(3);
    // Against the defaults: CPU request 500m and limit 1 core, memory limit 1 GiB.
    const running = rows.filter({ hasText: 'running' });
    for (let i = 0; i < 3; i++) {
      expect(await running.nth(i).textContent()).toContain('50% of request · 25% of limit');
      expect(await running.nth(i).textContent()).toContain('29% of limit');
    }
    // The table says what the API says.
    const list = await app.call<{ rows: Row[] }>('processes.list');
    const usage = (state: string) => list.rows.filter((r) => r.state === state).map((r) => r.usage);
    expect(usage('running')).toEqual([0, 1, 2].map(() => ({ t: expect.any(String), cpu_millicores: expect.any(Number), memory_bytes: USAGE.memoryBytes })));
    for (const u of usage('running')) expect(Math.abs(u!.cpu_millicores - USAGE.cpuMillicores)).toBeLessThanOrEqual(5);
    // …and each row shows its job's figure (read again until no sample lands in between).
    await expect
      .poll(async () => {
        const now = await app.call<{ rows: Row[] }>('processes.list');
        const wrong = [];
        for (const r of now.rows.filter((r) => r.state === 'running')) {
          const text = await rows.filter({ hasText: r.key }).textContent();
          if (!text?.includes(`${Math.round(r.usage!.cpu_millicores)}m`) || !text.includes('300 MiB')) wrong.push(r.key);
        }
        return wrong;
      })
      .toEqual([]);
    expect(usage('queued')).toEqual([null, null, null]);
    await page.getByTestId('stat-running').filter({ hasText: '3' }).waitFor();
    await page.getByText('3 queued').waitFor();
    await page.getByText(/using 7[3-6]\dm now/).waitFor();
    await page.getByText('using 900 MiB now').waitFor();
    // Three running builds request 3 × 500m of the three 4-core fake nodes.
    expect(await page.getByTestId('stat-cpu-requested').textContent()).toBe('1.5 cores of 12 cores');
    await photograph(page, 'processes-03-table');

    // Filter by state, sort by content (a header button), filter by text.
    await page.getByLabel('State').selectOption('running');
    await expect.poll(() => rows.count()).toBe(3);
    await page.getByRole('button', { name: 'Content' }).click();
    expect(await grid.getByRole('columnheader', { name: 'Content' }).getAttribute('aria-sort')).toBe('ascending');
    await expect.poll(() => rows.locator('.cell-title').allTextContents()).toEqual(['Churn model', 'Inventory service', 'Sales API']);
    await page.getByLabel('Search').fill('sales');
    await expect.poll(() => rows.count()).toBe(1);
    await page.getByLabel('Search').fill('');
    await expect.poll(() => rows.count()).toBe(3);

    // The keyboard: focus the grid, move down, Enter opens that job.
    await grid.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await grid.locator('[aria-selected=true] .cell-title').textContent()).toBe('Inventory service');
    expect(await grid.getAttribute('aria-activedescendant')).toBe(await grid.locator('[aria-selected=true]').getAttribute('id'));
    await screenshot(page, 'processes-03-table-keyboard-light');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /Inventory service · build/ }).waitFor();
    const key = new URL(page.url()).hash.split('/')[3]!;
    expect(new URL(page.url()).hash).toBe(`#/processes/${guids[2]}/${key}`);

    // Timeline: queued → created → scheduled → image pulled → started happened, each with a time.
    const timeline = page.getByTestId('timeline');
    for (const phase of ['queued', 'created', 'scheduled', 'pulled', 'started']) await timeline.locator(`li.done[data-phase=${phase}]`).waitFor();
    expect(await timeline.locator('li[data-phase=finished]').getAttribute('class')).toBe('current');
    // Charts with points (the samples so far, growing with each metrics cycle).
    const cpuChart = page.getByTestId('chart-cpu');
    await expect.poll(async () => Number(await cpuChart.getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => cpuChart.locator('.recharts-line-dot').count()).toBeGreaterThanOrEqual(2);
    expect(await cpuChart.locator('.ref-limit').count()).toBe(1);
    expect(await cpuChart.locator('.ref-request').count()).toBe(1);
    expect(await page.getByTestId('chart-memory').locator('figcaption').textContent()).toContain('300 MiB now');
    expect(await cpuChart.locator('figcaption').textContent()).toMatch(CPU_NOW);
    // The log panel (KWOK's pods print nothing: it says where it reads from) and the events.
    await expect.poll(() => page.getByTestId('log-source').textContent()).toMatch(/lines · /);
    await page.getByTestId('events').getByText('Scheduled').first().waitFor();
    await photograph(page, 'processes-04-job-running');

    // Cancel: a dialog that Escape closes (and keeps focus inside while open); then confirm.
    await page.getByRole('button', { name: 'Cancel job…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this job?' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    for (let i = 0; i < 4; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await scan(page, 'cancel dialog');
    await screenshot(page, 'processes-05-cancel-dialog-light');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Cancel job…' }).click();
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await page.getByTestId('job-outcome').getByText('Cancelled').waitFor();
    await expect.poll(async () => (await app.call<{ state: string }>('jobs.get', { guid: guids[2], key })).state).toBe('cancelled');
    await timeline.locator('li.done[data-phase=finished]').waitFor();
    expect(await page.getByRole('button', { name: 'Cancel job…' }).count()).toBe(0);
    await photograph(page, 'processes-06-job-cancelled');

    // Back: the table kept its filter, sort and selection. The cancelled job left the "running"
    // filter; with all states it is there, still selected, showing the cancel.
    await page.getByRole('link', { name: '← Processes' }).click();
    await grid.waitFor();
    expect(await page.getByLabel('State').inputValue()).toBe('running');
    await expect.poll(() => rows.count()).toBe(2);
    await page.getByLabel('State').selectOption('all');
    await grid.locator('[aria-selected=true]', { hasText: 'cancelled' }).waitFor();
    expect(await grid.locator('[aria-selected=true] .cell-title').textContent()).toBe('Inventory service');

    // A queued job's page says in words what it waits for (the run waits for its build).
    const queued = (await app.call<{ rows: Row[] }>('processes.list')).rows.find((r) => r.state === 'queued')!;
    await page.goto(`${app.served.url}#/processes/${queued.content_guid}/${queued.key}`);
    expect(await page.getByTestId('launch-progress').textContent()).toMatch(/Waiting in the queue: it starts once its build has succeeded/);
    expect(await page.getByTestId('timeline').locator('li.current').getAttribute('data-phase')).toBe('created');
    await photograph(page, 'processes-08-job-queued');
    expect(ns).not.toBe('');
  });
});
