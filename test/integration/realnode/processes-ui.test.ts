/**
 * The job page in Chromium against the built server (`node dist/main/server.js`, as `npm run serve`
 * starts it) on PostgreSQL, with content the server itself launched on the real node (issue 11).
 * What KWOK's pods cannot show: they print nothing and are never killed for memory.
 *   - a FastAPI app's log is followed live: each request through /content/{guid}/ adds uvicorn's
 *     access line to the page while it runs, without a reload (latency measured); cancelled from
 *     the page, its pod gone, the page still shows the log (the copy the store kept);
 *   - an app whose memory limit (128 MiB, the quota's minimum) a request overruns by allocating
 *     400 MB is OOM-killed by the kubelet: its page says OOMKilled, marks the kill on the memory
 *     chart after its samples, and keeps its log.
 * Screenshots in test-results/screenshots/processes-realnode-*.png.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { eventually, kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { launchBrowser, screenshot } from '../../e2e/harness.js';
import { BACKENDS } from '../backends.js';
import { bundleOf } from '../connect-helpers.js';
import { createAdminKey, keyedRequests, startBuiltServer, type BuiltServer } from './built-server.js';
import { enforceRestricted, figure, imageMeta, realNodeSkip, useContentClaim, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;
const MiB = 2 ** 20;

const fastapiManifest = () => ({ version: 1, metadata: { appmode: 'python-fastapi', entrypoint: 'main:app' }, python: { version: imageMeta('python').runtimes.python!.version } });

// uvicorn logs one access line per request: `INFO: 10.0.0.1:5555 - "GET /?probe=3 HTTP/1.1" 200 OK`.
const ECHO_PY = `from fastapi import FastAPI

app = FastAPI()

@app.get("/")
def root(probe: str = ""):
    return {"probe": probe}
`;

// Holds 40 MB from the start (so the sampler sees it), and /grow writes 400 MB more: over the limit.
const HOG_PY = `from fastapi import FastAPI

app = FastAPI()
held = bytearray(40 * 1024 * 1024)
for i in range(0, len(held), 4096):
    held[i] = 1
print("holding", len(held) // (1024 * 1024), "MB", flush=True)

@app.get("/")
def root():
    return {"held": len(held)}

@app.get("/grow")
def grow():
    print("growing by 400 MB", flush=True)
    more = b"x" * (400 * 1024 * 1024)
    return {"grew": len(more)}
`;

interface JobRow {
  key: string;
  kind: string;
  state: string;
  reason: string | null;
  exit_code: number | null;
  k8s_name: string | null;
}

describe.skipIf(!!skip)('the job page in Chromium, for jobs the server ran on the real node', () => {
  const ns = useRealNodeNamespace('rn-procui');
  const content = useContentClaim(ns);
  let server: BuiltServer;
  let key: string;
  let drop: () => Promise<void>;
  let dataDir: string;
  let browser: Browser;
  let page: Page;

  const req = keyedRequests(() => server.url, () => key);
  const call = async <T,>(method: string, input: unknown): Promise<T> => {
    const r = await req('POST', `/api/call/${method}`, { body: input });
    if (r.status !== 200 || r.json?.error) throw new Error(`${method}: ${r.status} ${r.text}`);
    return r.json.result as T;
  };

  /** Create content, upload the bundle, deploy it; the content's guid once the task ended well. */
  async function deploy(name: string, b: Buffer, settings: Record<string, unknown> = {}): Promise<string> {
    const c = await req('POST', '/__api__/v1/content', { body: { name, ...settings } });
    expect(c.status, c.text).toBe(200);
    const up = await req('POST', `/__api__/v1/content/${c.json.guid}/bundles`, { raw: b });
    expect(up.status, up.text).toBe(200);
    const task = (await req('POST', `/__api__/v1/content/${c.json.guid}/deploy`, { body: { bundle_id: up.json.id } })).json.task_id;
    const lines: string[] = [];
    let first = 0;
    const t0 = Date.now();
    for (;;) {
      const t = (await req('GET', `/__api__/v1/tasks/${task}?first=${first}&wait=1`)).json;
      lines.push(...t.output);
      first = t.last;
      if (t.finished) {
        expect(t.code, lines.join('\n')).toBe(0);
        return c.json.guid as string;
      }
      if (Date.now() - t0 > 150_000) throw new Error(`deploy of ${name} did not finish in 150 s:\n${lines.join('\n')}\n--- server ---\n${server.log().slice(-3000)}`);
    }
  }

  /** Starts the app by a request through Offhost; its running run job. */
  async function startApp(guid: string): Promise<JobRow> {
    const first = await req('GET', `/content/${guid}/`);
    expect(first.status, `${first.text}\n--- server ---\n${server.log().slice(-3000)}`).toBe(200);
    const jobs = await call<JobRow[]>('jobs.list', { guid });
    const running = jobs.find((j) => j.kind === 'run' && j.state === 'running');
    expect(running, JSON.stringify(jobs)).toBeTruthy();
    return running!;
  }

  async function openJob(guid: string, jobKey: string): Promise<void> {
    await page.goto(`${server.url}#/processes/${guid}/${jobKey}`);
    await page.getByRole('heading', { level: 1 }).filter({ hasText: /·/ }).waitFor();
  }

  const podsOf = async (k8sName: string) => (await kube().core.listNamespacedPod({ namespace: ns.name, labelSelector: `job-name=${k8sName}` })).items;

  beforeAll(async () => {
    await enforceRestricted(ns.name);
    const db = await postgres.create();
    drop = db.drop;
    if (db.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-procui-'));
    const env: Record<string, string> = {
      OFFHOST_DATA_DIR: dataDir,
      DATABASE_URL: db.config.url ?? '',
      OFFHOST_ENVIRONMENTS_FILE: '',
      OFFHOST_LOG_LEVEL: 'info',
      OFFHOST_KUBECONFIG: inject('kubeconfigPath') ?? '',
      OFFHOST_NAMESPACE: ns.name,
      OFFHOST_CONTENT_CLAIM: content.name,
      OFFHOST_CONTENT_VOLUME: content.hostDir,
      OFFHOST_STORE_IMAGE: imageMeta('python').ref,
      OFFHOST_JOB_NODE_SELECTOR: JSON.stringify({ 'kubernetes.io/hostname': REAL_NODE_NAME }),
      OFFHOST_JOB_TOLERATIONS: JSON.stringify([{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }]),
      OFFHOST_METRICS_INTERVAL: '2s',
    };
    key = await createAdminKey(env, 'procui');
    server = await startBuiltServer(env);
    const py = imageMeta('python');
    const r = imageMeta('r');
    for (const e of [
      { name: py.ref, title: 'Debian Python', python: { installations: [{ version: py.runtimes.python!.version, path: py.runtimes.python!.path }] } },
      { name: r.ref, title: 'Debian R', r: { installations: [{ version: r.runtimes.r!.version, path: r.runtimes.r!.path }] } },
    ]) {
      const made = await req('POST', '/__api__/v1/environments', { body: { matching: 'any', ...e } });
      expect(made.status, made.text).toBe(200);
    }
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 1500 } });
    page.setDefaultTimeout(30_000);
    await page.goto(server.loginUrl);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (server) fs.writeFileSync('/tmp/rn-procui-last-server.log', server.log());
    await drop?.();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("follows a running app's log (each request's line appears without a reload), and shows the kept log after it is cancelled and its pod is gone", { timeout: 300_000 }, async () => {
    const guid = await deploy('log-follow', bundleOf(fastapiManifest(), { 'main.py': ECHO_PY }));
    const job = await startApp(guid);
    await openJob(guid, job.key);
    const source = page.getByTestId('log-source');
    const log = page.getByTestId('log');
    await expect.poll(() => source.textContent(), { timeout: 30_000 }).toMatch(/following the pod live/);
    // A mark in the window: a reload would drop it.
    await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 1));

    const latencies: number[] = [];
    const shown: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const probe = `p${i}x${Date.now().toString(36)}`;
      const t0 = performance.now();
      const res = await req('GET', `/content/${guid}/?probe=${probe}`);
      expect(res.status, res.text).toBe(200);
      expect(res.json).toEqual({ probe });
      const answered = performance.now();
      await page.waitForFunction((p) => document.querySelector('[data-testid=log]')?.textContent?.includes(`probe=${p}`), probe, { polling: 'raf', timeout: 20_000 });
      latencies.push(performance.now() - t0);
      shown.push(performance.now() - answered);
      await new Promise((r) => setTimeout(r, 700));
    }
    expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
    expect(await source.textContent()).toMatch(/following the pod live/);
    const text = (await log.textContent())!;
    expect(text).toMatch(/Uvicorn running on/);
    expect(text.match(/"GET \/\?probe=\S+ HTTP\/1\.1" 200/g)?.length).toBe(6);
    const sorted = [...latencies].sort((a, b) => a - b);
    const after = [...shown].sort((a, b) => a - b);
    figure(
      'job page: a request → its log line shown in Chromium (following, 6 requests)',
      `median ${sorted[3]!.toFixed(0)} ms, max ${sorted[5]!.toFixed(0)} ms from sending the request; median ${after[3]!.toFixed(0)} ms, max ${after[5]!.toFixed(0)} ms after its answer`,
    );
    await screenshot(page, 'processes-realnode-01-log-following');

    // Cancel from the page; its Kubernetes Job and pod are deleted.
    await page.getByRole('button', { name: 'Cancel job…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job', exact: true }).click();
    await expect.poll(async () => (await call<JobRow>('jobs.get', { guid, key: job.key })).state, { timeout: 60_000 }).toBe('cancelled');
    await eventually(async () => ((await podsOf(job.k8s_name!)).length === 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 500, what: `the pod of ${job.k8s_name} to be gone` });
    // The page read the log once more when the job ended (its pod still terminating, so "from the
    // pod"); with the pod gone the lines stay on the page.
    await expect.poll(() => source.textContent(), { timeout: 30_000 }).not.toMatch(/following/);
    expect((await log.textContent())!.match(/"GET \/\?probe=\S+ HTTP\/1\.1" 200/g)?.length).toBe(6);
    expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(1);
    // A fresh load shows the copy the store kept.
    await page.reload();
    await expect.poll(() => source.textContent(), { timeout: 30_000 }).toMatch(/the copy kept after the pod ended/);
    expect((await log.textContent())!.match(/"GET \/\?probe=\S+ HTTP\/1\.1" 200/g)?.length).toBe(6);
    expect(await page.getByTestId('job-outcome').textContent()).toMatch(/cancel/i);
    expect(await page.getByRole('button', { name: 'Cancel job…' }).count()).toBe(0);
    await page.getByTestId('chart-memory').waitFor();
    await screenshot(page, 'processes-realnode-02-log-kept');
  });

  it('an app killed for memory: its page says OOMKilled and marks the kill on the memory chart after its samples', { timeout: 300_000 }, async () => {
    const guid = await deploy('memory-hog', bundleOf(fastapiManifest(), { 'main.py': HOG_PY }), { memory_limit: 128 * MiB, memory_request: 64 * MiB });
    const job = await startApp(guid);
    const opened = Date.now();
    await openJob(guid, job.key);
    const memory = page.getByTestId('chart-memory');
    // Samples first (metrics-server measures every 10 s here), so the mark has something to follow;
    // they come live, also when the figures stay the same (the event then has no row for the job).
    await expect.poll(async () => Number(await memory.getAttribute('data-points')), { timeout: 60_000, interval: 500 }).toBeGreaterThanOrEqual(2);
    figure('OOM job: its page open → two memory samples on the chart, live', `${((Date.now() - opened) / 1000).toFixed(1)} s`);
    expect(await memory.locator('.ref-label.limit').textContent()).toBe('limit 128 MiB');
    await expect.poll(() => page.getByTestId('log').textContent(), { timeout: 20_000 }).toMatch(/holding 40 MB/);

    const t0 = Date.now();
    const boom = await req('GET', `/content/${guid}/grow`);
    expect(boom.status, boom.text).toBeGreaterThanOrEqual(500);
    const ended = await eventually(
      async () => {
        const j = await call<JobRow>('jobs.get', { guid, key: job.key });
        return j.state === 'failed' || j.state === 'succeeded' || j.state === 'cancelled' ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `job ${job.key} to end` },
    );
    figure('OOM: the request that overruns 128 MiB → the job failed OOMKilled (server state)', `${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(ended).toMatchObject({ state: 'failed', reason: 'OOMKilled', exit_code: 137 });

    // The page follows without a reload.
    await expect.poll(() => page.getByTestId('job-outcome').textContent(), { timeout: 30_000 }).toMatch(/Killed for running out of memory \(exit code 137\)/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toMatch(/failed/i);
    await memory.locator('.ref-oom line').waitFor({ state: 'attached', timeout: 30_000 });
    expect(await memory.locator('.ref-label.oom').textContent()).toBe('OOM killed');
    expect(await page.getByTestId('oom-note').textContent()).toMatch(/Killed for running out of memory at /);
    const dots = memory.locator('.recharts-line-dot');
    expect(await dots.count()).toBeGreaterThanOrEqual(2);
    const lastDot = await dots.last().boundingBox();
    const mark = await memory.locator('.ref-oom line').boundingBox();
    expect(mark!.x).toBeGreaterThan(lastDot!.x);
    expect(await page.getByTestId('chart-cpu').locator('.ref-oom').count()).toBe(0);
    // The samples show what it held (≥ 40 MiB), under its limit.
    const caption = (await memory.locator('figcaption').textContent())!;
    const peak = /peak ([\d.]+) MiB/.exec(caption);
    expect(peak, caption).toBeTruthy();
    expect(Number(peak![1])).toBeGreaterThanOrEqual(40);
    figure('OOM job: memory samples before the kill', `${await dots.count()} points, ${caption}`);
    await screenshot(page, 'processes-realnode-03-oom');

    // The pod gone, a fresh load still shows the reason, the mark and the kept log.
    // The pod stays for the Job's TTL (600 s); delete the Job as the TTL controller would.
    await kube().batch.deleteNamespacedJob({ namespace: ns.name, name: job.k8s_name!, propagationPolicy: 'Foreground' });
    await eventually(async () => ((await podsOf(job.k8s_name!)).length === 0 ? true : undefined), { timeoutMs: 90_000, intervalMs: 500, what: `the pod of ${job.k8s_name} to be gone` });
    await page.reload();
    await expect.poll(() => page.getByTestId('log-source').textContent(), { timeout: 30_000 }).toMatch(/the copy kept after the pod ended/);
    expect((await call<JobRow>('jobs.get', { guid, key: job.key })).reason).toBe('OOMKilled');
    await expect.poll(() => page.getByTestId('job-outcome').textContent(), { timeout: 30_000 }).toMatch(/Killed for running out of memory/);
    await memory.locator('.ref-oom line').waitFor({ state: 'attached', timeout: 30_000 });
    await expect.poll(() => page.getByTestId('log').textContent(), { timeout: 30_000 }).toMatch(/growing by 400 MB/);
    await screenshot(page, 'processes-realnode-04-oom-reloaded');
  });
});
