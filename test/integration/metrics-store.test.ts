// The metrics sampler's store side on real SQLite and PostgreSQL (issue 11): a PodMetrics list
// becomes one raw sample per job (stored once, pushed once per cycle as the changed rows), raw
// samples older than the raw retention become exact minute averages, minute averages past the
// retention go, and the API methods read it back — processes.list, processes.summary and
// jobs.metrics, with the request, limit and OOM moment. The cluster half (KWOK's emulated usage
// through metrics-server) is test/integration/cluster/processes-metrics.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../shared/api';
import { DEFAULT_QUOTAS } from '../../shared/quota';
import type { ProcessesMetricsEvent } from '../../shared/processes';
import { createCore, type Core } from '../../main/core';
import { dispatch } from '../../main/api/handlers';
import { loadConfig } from '../../main/config';
import { silentLogger } from '../../main/log';
import { DEFAULT_METRICS_OPTIONS, retentionCuts } from '../../main/metrics/options';
import { MetricsSampler } from '../../main/metrics/sampler';
import { MetricsService } from '../../main/metrics/service';
import { MINUTE, RAW, metricsRepo, type SampleRow } from '../../main/store/metrics-repo';
import { BACKENDS } from './backends';
import { podMetrics, seedContent, seedJobs, type SeededJob } from './metrics-seed';

const MiB = 2 ** 20;
const admin = { actor: 'test', role: 'admin' as const };
const T0 = Date.parse('2026-12-06T12:00:00Z');

describe.each(BACKENDS)('metrics in the store on $name', (backend) => {
  let core: Core;
  let dir: string;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await backend.create();
    drop = db.drop;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-metrics-'));
    core = await createCore(loadConfig({}, { dataDir: dir, database: db.config, environmentsFile: null, kube: null }), silentLogger, 'server');
  });
  afterAll(async () => {
    await core?.close();
    await drop?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sampler(now: () => number) {
    return new MetricsSampler({
      store: core.store,
      events: core.events,
      log: silentLogger,
      connect: () => {
        throw new Error('this test feeds PodMetrics lists directly');
      },
      options: DEFAULT_METRICS_OPTIONS,
      now,
    });
  }

  it('a PodMetrics list → one raw sample per known job, stored once; one event with the changed rows and the gone ones', async () => {
    const c = await seedContent(core.store);
    const [a, b] = await seedJobs(core.store, c, 2);
    const other = await seedContent(core.store);
    const stranger: SeededJob = { id: a!.id, key: 'x', guid: other.guid }; // same number, another content
    const events: ProcessesMetricsEvent[] = [];
    const off = core.events.on('processes.metrics', (e) => events.push(e));
    let now = Date.now();
    const s = sampler(() => now);
    const t1 = new Date(now - 5000).toISOString().replace(/\.\d+Z$/, 'Z');
    const list1 = [podMetrics(a!, '250000000n', '307200Ki', t1), podMetrics(b!, '1000000n', '1024Ki', t1), podMetrics(stranger, '9', '9Gi', t1), podMetrics({ id: 999_999, key: 'y', guid: c.guid }, '1', '1Ki', t1)];
    await s.ingest(list1, now);
    const tSec = Date.parse(t1) / 1000;
    expect(await metricsRepo.history(core.store.db, a!.id, 0)).toEqual([{ job_id: a!.id, res: RAW, t: tSec, cpu_millicores: 250, memory_bytes: 300 * MiB }]);
    expect(await metricsRepo.history(core.store.db, b!.id, 0)).toEqual([{ job_id: b!.id, res: RAW, t: tSec, cpu_millicores: 1, memory_bytes: 1024 * 1024 }]);
    expect(events).toHaveLength(1);
    expect(events[0]!.rows.map((r) => [r.id, r.cpu_millicores, r.memory_bytes]).sort()).toEqual([[a!.id, 250, 300 * MiB], [b!.id, 1, 1024 * 1024]].sort());
    expect(events[0]).toMatchObject({ gone: [], status: { state: 'ok', available: true, pods: 4, matched: 2 } });

    // metrics-server has not scraped again (same timestamp): nothing new stored, nothing pushed
    now += 15_000;
    await s.ingest(list1, now);
    expect(await metricsRepo.count(core.store.db)).toBe(2);
    expect(events[1]).toMatchObject({ rows: [], gone: [] });

    // a new scrape: a changed, b gone
    now += 15_000;
    const t2 = new Date(now - 2000).toISOString().replace(/\.\d+Z$/, 'Z');
    await s.ingest([podMetrics(a!, '300m', '300Mi', t2)], now);
    expect((await metricsRepo.history(core.store.db, a!.id, 0)).map((r) => r.cpu_millicores)).toEqual([250, 300]);
    expect(events[2]).toMatchObject({ rows: [{ id: a!.id, cpu_millicores: 300, memory_bytes: 300 * MiB, sample_time: new Date(t2).toISOString() }], gone: [b!.id] });

    // the status any instance reads: ok, with this cycle's counts
    const svc = new MetricsService({ store: core.store, content: core.content, quotas: async () => DEFAULT_QUOTAS, options: DEFAULT_METRICS_OPTIONS, configured: true, now: () => now });
    expect(await svc.status()).toMatchObject({ state: 'ok', available: true, pods: 1, matched: 1, last_sample_time: new Date(t2).toISOString() });
    expect(await svc.status(now + 46_000)).toMatchObject({ state: 'stale', available: false });
    off();
  });

  it('raw samples older than the raw retention → exact minute averages; past the retention → gone', async () => {
    const c = await seedContent(core.store);
    const [a, b] = await seedJobs(core.store, c, 2);
    const nowSec = T0 / 1000 + 37; // not on a minute
    const raw: SampleRow[] = [];
    for (let t = nowSec - 2 * 3600; t <= nowSec; t += 15) {
      const i = (t - nowSec) / 15;
      raw.push({ job_id: a!.id, t, cpu_millicores: (Math.abs(i) % 7) * 10 + 1, memory_bytes: 1_000_000 + Math.abs(i) * 3 });
      raw.push({ job_id: b!.id, t, cpu_millicores: 5, memory_bytes: 4096 });
    }
    await metricsRepo.insertRaw(core.store.db, raw);
    // minute averages from an earlier compaction: one inside the retention, one 8 days old
    const inside = nowSec - 3 * 86_400 - (nowSec % 60);
    const outside = nowSec - 8 * 86_400 - (nowSec % 60);
    await core.store.db
      .insertInto('job_metrics')
      .values([
        { job_id: a!.id, res: MINUTE, t: inside, cpu_millicores: 42, memory_bytes: 4242 },
        { job_id: a!.id, res: MINUTE, t: outside, cpu_millicores: 43, memory_bytes: 4343 },
      ])
      .execute();

    const { rawCut, minuteCut } = retentionCuts(nowSec, DEFAULT_METRICS_OPTIONS);
    expect(rawCut % 60).toBe(0);
    const countWhere = async (res: number, before: number) =>
      Number((await core.store.db.selectFrom('job_metrics').select((eb) => eb.fn.countAll<number | string>().as('n')).where('res', '=', res).where('t', '<', before).executeTakeFirstOrThrow()).n);
    const rawBefore = await countWhere(RAW, rawCut);
    const minuteBefore = await countWhere(MINUTE, minuteCut);
    expect(minuteBefore).toBeGreaterThanOrEqual(1);
    const r = await metricsRepo.compact(core.store.db, rawCut, minuteCut);

    // what the averages must be, computed here
    const expected = new Map<number, { cpu: number[]; mem: number[] }>();
    for (const s of raw.filter((s) => s.job_id === a!.id && s.t < rawCut)) {
      const m = Math.floor(s.t / 60) * 60;
      const e = expected.get(m) ?? { cpu: [], mem: [] };
      e.cpu.push(s.cpu_millicores);
      e.mem.push(s.memory_bytes);
      expected.set(m, e);
    }
    const avg = (xs: number[]) => Math.round(xs.reduce((x, y) => x + y, 0) / xs.length);
    const history = await metricsRepo.history(core.store.db, a!.id, 0);
    const minutes = history.filter((s) => s.res === MINUTE && s.t !== inside);
    expect(minutes.map((s) => [s.t, s.cpu_millicores, s.memory_bytes])).toEqual([...expected].sort((x, y) => x[0] - y[0]).map(([t, e]) => [t, avg(e.cpu), avg(e.mem)]));
    expect(minutes.length).toBeGreaterThanOrEqual(60);
    // the raw samples newer than the cut are untouched; none older is left
    expect(history.filter((s) => s.res === RAW).map((s) => s.t)).toEqual(raw.filter((s) => s.job_id === a!.id && s.t >= rawCut).map((s) => s.t));
    expect(history.some((s) => s.t === inside && s.cpu_millicores === 42)).toBe(true);
    expect(history.some((s) => s.t === outside)).toBe(false);
    expect(r).toMatchObject({ minuteDeleted: minuteBefore, rawDeleted: rawBefore });
    expect(rawBefore).toBeGreaterThanOrEqual(raw.filter((s) => s.t < rawCut).length);
    // the constant job averages to itself
    expect(new Set((await metricsRepo.history(core.store.db, b!.id, 0)).map((s) => `${s.cpu_millicores}/${s.memory_bytes}`))).toEqual(new Set(['5/4096']));
    // again: nothing left to do
    expect(await metricsRepo.compact(core.store.db, rawCut, minuteCut)).toEqual({ averaged: 0, rawDeleted: 0, minuteDeleted: 0 });
    // deleting a job deletes its samples
    await core.store.db.deleteFrom('jobs').where('id', '=', b!.id).execute();
    expect(await metricsRepo.history(core.store.db, b!.id, 0)).toEqual([]);
  });

  it('a cycle that cannot reach the cluster: status "error" in words, figures gone, and the retention still applied', async () => {
    const c = await seedContent(core.store);
    const [a] = await seedJobs(core.store, c, 1);
    const now = Date.now();
    const sec = Math.floor(now / 1000);
    // a sample the previous cycle pushed, and one two hours old that the retention must average
    await metricsRepo.insertRaw(core.store.db, [{ job_id: a!.id, t: sec - 7200, cpu_millicores: 7, memory_bytes: 7 }]);
    const s = new MetricsSampler({
      store: core.store,
      events: core.events,
      log: silentLogger,
      connect: () => {
        throw new Error('The kubeconfig /nowhere/config does not exist');
      },
      options: DEFAULT_METRICS_OPTIONS,
      now: () => now,
    });
    await s.ingest([podMetrics(a!, '5m', '5Ki', new Date(now - 1000).toISOString())], now - 15_000);
    const events: ProcessesMetricsEvent[] = [];
    const off = core.events.on('processes.metrics', (e) => events.push(e));
    await s.cycle();
    off();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ rows: [], gone: [a!.id], status: { state: 'error', available: false } });
    expect(events[0]!.status.error).toBe('Cannot read metrics.k8s.io: The kubeconfig /nowhere/config does not exist. Retrying every 15 s.');
    const svc = new MetricsService({ store: core.store, content: core.content, quotas: async () => DEFAULT_QUOTAS, options: DEFAULT_METRICS_OPTIONS, configured: true, now: () => now });
    const summary = await svc.summary();
    expect(summary.metrics.state).toBe('error');
    expect(summary.allocatable).toBeNull();
    expect(summary.allocatable_error).toMatch(/^Cannot read the nodes' allocatable CPU and memory: The kubeconfig \/nowhere\/config does not exist$/);
    expect((await metricsRepo.history(core.store.db, a!.id, 0)).map((x) => [x.res, x.t])).toEqual([
      [MINUTE, Math.floor((sec - 7200) / 60) * 60],
      [RAW, Math.floor((now - 1000) / 1000)],
    ]);
  });

  it('processes.list, processes.summary and jobs.metrics read it back, for the roles the contract names', async () => {
    const c = await seedContent(core.store, 'proc-list');
    const now = Date.now();
    const [running] = await seedJobs(core.store, c, 1, { resources: { cpu_request_millicores: 250, cpu_limit_millicores: 1000, memory_request_bytes: 128 * MiB, memory_limit_bytes: 512 * MiB } });
    const [pending] = await seedJobs(core.store, c, 1, { state: 'pending', resources: { cpu_request_millicores: null, cpu_limit_millicores: null, memory_request_bytes: null, memory_limit_bytes: null } });
    const oomAt = new Date(now - 60_000).toISOString();
    const [oom] = await seedJobs(core.store, c, 1, { state: 'failed', finished_time: oomAt, reason: 'OOMKilled', message: 'The container ran out of memory.' });
    const [old] = await seedJobs(core.store, c, 1, { state: 'succeeded', finished_time: new Date(now - 30 * 3_600_000).toISOString() });
    const sec = Math.floor(now / 1000);
    await metricsRepo.insertRaw(core.store.db, [
      { job_id: running!.id, t: sec - 20, cpu_millicores: 100, memory_bytes: 64 * MiB },
      { job_id: running!.id, t: sec - 5, cpu_millicores: 200, memory_bytes: 96 * MiB },
      { job_id: oom!.id, t: sec - 70, cpu_millicores: 900, memory_bytes: 500 * MiB },
    ]);
    await core.store.db.insertInto('job_metrics').values({ job_id: running!.id, res: MINUTE, t: sec - 7200 - (sec % 60), cpu_millicores: 50, memory_bytes: 32 * MiB }).execute();

    expect(api['processes.list'].role).toBe('admin');
    expect(api['processes.summary'].role).toBe('admin');
    expect(api['jobs.metrics'].role).toBe('publisher');
    await expect(dispatch(core.handlers, 'processes.list', {}, { actor: 'p', role: 'publisher' })).rejects.toMatchObject({ code: 'Forbidden' });
    await expect(dispatch(core.handlers, 'processes.list', { hours: 0 }, admin)).rejects.toMatchObject({ field: 'hours' });

    const list = (await dispatch(core.handlers, 'processes.list', { hours: 24 }, admin)) as Awaited<ReturnType<Core['metrics']['list']>>;
    const mine = list.rows.filter((r) => r.content_guid === c.guid);
    // active first (newest first), then finished of the last 24 h; the 30-hour-old one is left out
    expect(mine.map((r) => r.id)).toEqual([pending!.id, running!.id, oom!.id]);
    const row = mine.find((r) => r.id === running!.id)!;
    expect(row).toMatchObject({
      key: running!.key,
      content_name: 'proc-list',
      content_title: 'Title of proc-list',
      kind: 'run',
      state: 'running',
      node_name: 'node-0',
      restarts: 0,
      resources: { cpu_request_millicores: 250, cpu_limit_millicores: 1000, memory_request_bytes: 128 * MiB, memory_limit_bytes: 512 * MiB },
      usage: { t: new Date((sec - 5) * 1000).toISOString(), cpu_millicores: 200, memory_bytes: 96 * MiB },
    });
    // no figures of its own: the quotas' defaults, as the launcher gives the pod
    const d = DEFAULT_QUOTAS;
    expect(mine.find((r) => r.id === pending!.id)!.resources.cpu_request_millicores).toBe(Math.round(Number(d.cpu_request.default) * 1000));
    // a sample older than 3 intervals is not "now"
    expect(mine.find((r) => r.id === oom!.id)!.usage).toBeNull();
    expect(list.metrics).toMatchObject({ state: 'not-configured', available: false });
    const limited = (await dispatch(core.handlers, 'processes.list', { hours: 48, limit: 1 }, admin)) as typeof list;
    expect(limited.truncated).toBe(true);
    // active jobs are never left out; one finished one is
    expect(limited.rows.filter((r) => r.content_guid === c.guid).map((r) => r.id)).toEqual([pending!.id, running!.id, oom!.id]);

    const summary = (await dispatch(core.handlers, 'processes.summary', undefined, admin)) as Awaited<ReturnType<Core['metrics']['summary']>>;
    expect(summary.running).toBeGreaterThanOrEqual(1);
    expect(summary.pending).toBeGreaterThanOrEqual(1);
    expect(summary.failed_last_hour).toBeGreaterThanOrEqual(1);
    expect(summary.requested.cpu_millicores).toBeGreaterThanOrEqual(250);
    expect(summary.used.cpu_millicores).toBeGreaterThanOrEqual(200);
    expect(summary.allocatable).toBeNull();
    expect(summary.app).toMatchObject({ pid: process.pid, rss_bytes: expect.any(Number), heap_used_bytes: expect.any(Number) });
    expect(summary.app.rss_bytes).toBeGreaterThan(10 * MiB);

    const hist = (await dispatch(core.handlers, 'jobs.metrics', { guid: c.guid, key: running!.key }, admin)) as Awaited<ReturnType<Core['metrics']['jobMetrics']>>;
    expect(hist.samples.map((s) => [s.resolution, s.cpu_millicores])).toEqual([
      ['minute', 50],
      ['raw', 100],
      ['raw', 200],
    ]);
    expect(hist).toMatchObject({ id: running!.id, state: 'running', oom: null, resources: { memory_limit_bytes: 512 * MiB } });
    const since = (await dispatch(core.handlers, 'jobs.metrics', { guid: c.guid, key: running!.key, since: new Date((sec - 10) * 1000).toISOString() }, admin)) as typeof hist;
    expect(since.samples.map((s) => s.cpu_millicores)).toEqual([200]);
    const died = (await dispatch(core.handlers, 'jobs.metrics', { guid: c.guid, key: oom!.key }, admin)) as typeof hist;
    expect(died.oom).toEqual({ t: oomAt, message: 'The container ran out of memory.' });
    expect(died.samples).toHaveLength(1);
    await expect(dispatch(core.handlers, 'jobs.metrics', { guid: c.guid, key: 'nope' }, admin)).rejects.toMatchObject({ code: 'NotFound' });
    await expect(dispatch(core.handlers, 'jobs.metrics', { guid: c.guid, key: old!.key, since: 'then' }, admin)).rejects.toMatchObject({ field: 'since' });
  });
});
