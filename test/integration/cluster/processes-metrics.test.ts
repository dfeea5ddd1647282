/**
 * The metrics sampler against the real control plane (issue 11): pods the launcher made, whose
 * usage KWOK emulates from their kwok.offhost.dev/usage-* annotations and metrics-server serves
 * as metrics.k8s.io, are sampled with ONE PodMetrics list per cycle, and what is stored (and shown
 * by processes.list, and pushed as processes.metrics) equals the emulated usage: memory exactly,
 * CPU within the rate's rounding. The nodes' allocatable CPU and memory reach the summary. A
 * refused (403) or absent metrics API is a status in words; everything else keeps working. With
 * two instances on one PostgreSQL only the Lease holder samples, and the other takes over.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS } from '../../../shared/quota.js';
import { parseCpu, parseMemory } from '../../../shared/quantity.js';
import type { ProcessesMetricsEvent } from '../../../shared/processes.js';
import { loadKube, type KubeConnection } from '../../../main/kube/config.js';
import { silentLogger } from '../../../main/log.js';
import { MetricsSampler } from '../../../main/metrics/sampler.js';
import { MetricsService } from '../../../main/metrics/service.js';
import { metricsRepo, RAW } from '../../../main/store/metrics-repo.js';
import type { MetricsOptions } from '../../../main/metrics/options.js';
import { createCore, type Core } from '../../../main/core.js';
import { loadConfig } from '../../../main/config.js';
import { BACKENDS } from '../backends.js';
import { eventually, isLocalCluster, kube, kubeConfigWithToken, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

const namespaces = { sqlite: useTestNamespace('procmetrics-sqlite'), postgres: useTestNamespace('procmetrics-pg') };
const leaderNs = useTestNamespace('procmetrics-leader');
const MiB = 2 ** 20;
const FAST: MetricsOptions = { intervalMs: 2000, rawRetentionMs: 60_000, retentionMs: 3_600_000 };
/** As in metrics.test.ts: CPU is a rate metrics-server computes between two scrapes; memory is exact. */
const cpuClose = (actual: number, wanted: number) => Math.abs(actual - wanted) <= Math.max(1, wanted * 0.01) + 1;

const adminConnection = (namespace: string): KubeConnection => loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace });

describe.skipIf(!isLocalCluster()).each(BACKENDS)('metrics sampler on $name', (backend) => {
  let h: Harness & { drop(): Promise<void> };
  const ns = namespaces[backend.name];
  const samplers: MetricsSampler[] = [];
  const sampler = (connect: () => KubeConnection, options = FAST) => {
    const s = new MetricsSampler({ store: h.store, events: h.events, log: silentLogger, connect, options });
    samplers.push(s);
    return s;
  };
  const service = (options = FAST) => new MetricsService({ store: h.store, content: { job: async () => { throw new Error('not used'); } }, quotas: async () => h.quotas, options, configured: true });

  beforeAll(async () => {
    h = await startHarness(backend, ns.name);
  });
  afterAll(async () => {
    for (const s of samplers) await s.stop();
    await h?.drop();
  });

  it('stores what KWOK emulates (one list per cycle), shows it in processes.list, pushes it, and sums the nodes', async () => {
    const app = await h.content('python-fastapi');
    const resources = { cpu_request_millicores: 500, cpu_limit_millicores: 1000, memory_request_bytes: 256 * MiB, memory_limit_bytes: 512 * MiB };
    const busy = await h.addJob(app, 'run', 'python-fastapi', { resources, annotations: { 'kwok.offhost.dev/usage-cpu': '250m', 'kwok.offhost.dev/usage-memory': '300Mi', 'kwok.offhost.dev/run-time': '10m' } });
    const calm = await h.addJob(await h.content('python-fastapi'), 'run', 'python-fastapi', { annotations: { 'kwok.offhost.dev/usage-cpu': '75m', 'kwok.offhost.dev/usage-memory': '64Mi', 'kwok.offhost.dev/run-time': '10m' } });
    await h.waitFor(busy.id, (j) => j.state === 'running');
    await h.waitFor(calm.id, (j) => j.state === 'running');

    const events: ProcessesMetricsEvent[] = [];
    const off = h.events.on('processes.metrics', (e) => events.push(e));
    // Count the apiserver requests the sampler makes: one PodMetrics list per cycle, never per pod.
    const requests: string[] = [];
    const s = sampler(() => {
      const conn = adminConnection(ns.name);
      return { ...conn, kc: countingConfig(conn.kc, requests) };
    });
    s.start();
    const want = new Map([
      [busy.id, { cpu: 250, mem: 300 * MiB }],
      [calm.id, { cpu: 75, mem: 64 * MiB }],
    ]);
    let last = '';
    const latest = await eventually(
      async () => {
        const l = await metricsRepo.latest(h.store.db, 0);
        last = JSON.stringify([...l.values()]);
        for (const [id, w] of want) {
          const got = l.get(id);
          if (!got || got.memory_bytes !== w.mem || !cpuClose(got.cpu_millicores, w.cpu)) return false;
        }
        return l;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `stored samples equal to the emulated usage (last: ${last})` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}; last stored: ${last}`);
    });
    expect(latest.get(busy.id)!.memory_bytes).toBe(300 * MiB);

    // every raw sample of a running pod is the annotated memory (CPU only once two scrapes exist)
    const history = await metricsRepo.history(h.store.db, busy.id, 0);
    expect(history.length).toBeGreaterThanOrEqual(1);
    expect(history.every((x) => x.res === RAW && x.memory_bytes === 300 * MiB)).toBe(true);

    // the API any instance serves
    const list = await service().list({ hours: 1, limit: 100 });
    const row = list.rows.find((r) => r.id === busy.id)!;
    expect(row.state).toBe('running');
    expect(row.node_name).toMatch(/./);
    expect(row.resources).toEqual(resources);
    expect(row.usage!.memory_bytes).toBe(300 * MiB);
    expect(cpuClose(row.usage!.cpu_millicores, 250)).toBe(true);
    expect(list.metrics).toMatchObject({ state: 'ok', available: true, error: null });
    expect(list.metrics.matched).toBeGreaterThanOrEqual(2);

    // pushed: each job's figures reached a processes.metrics event
    for (const [id, w] of want) expect(events.some((e) => e.rows.some((r) => r.id === id && r.memory_bytes === w.mem))).toBe(true);
    off();

    // one request per cycle for the pods' metrics (plus the nodes once a minute), never one per pod
    const podMetricsCalls = requests.filter((u) => u.includes('/apis/metrics.k8s.io/v1beta1/namespaces/'));
    expect(podMetricsCalls.length).toBeGreaterThanOrEqual(s.cycles);
    expect(podMetricsCalls.length).toBeLessThanOrEqual(s.cycles + 1);
    expect(podMetricsCalls.every((u) => /\/pods\?labelSelector=/.test(u))).toBe(true);

    // the summary: the nodes' allocatable summed, the active jobs' requests
    const { core } = kube();
    const nodes = (await core.listNode()).items.filter((n) => !n.spec?.unschedulable);
    const summary = await service().summary();
    expect(summary.allocatable).toMatchObject({
      nodes: nodes.length,
      cpu_millicores: nodes.reduce((a, n) => a + parseCpu(n.status!.allocatable!.cpu!), 0),
      memory_bytes: nodes.reduce((a, n) => a + parseMemory(n.status!.allocatable!.memory!), 0),
    });
    expect(summary.allocatable_error).toBeNull();
    expect(summary.running).toBe(2);
    expect(summary.used.memory_bytes).toBe(364 * MiB);
    expect(summary.requested.cpu_millicores).toBe(500 + Math.round(Number(DEFAULT_QUOTAS.cpu_request.default) * 1000));

    // the job ends: its figures go (a 'gone' row), and it is no longer "now"
    const gone = new Promise<ProcessesMetricsEvent>((resolve) => {
      const o = h.events.on('processes.metrics', (e) => {
        if (e.gone.includes(calm.id)) {
          o();
          resolve(e);
        }
      });
    });
    await h.launcher.cancel(calm.id, 'test');
    await gone;
    await s.stop();
  });

  it('a ServiceAccount that may not read metrics.k8s.io: the status says which permission; the list still works', async () => {
    const { core } = kube();
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'no-metrics' } } });
    const tr = await core.createNamespacedServiceAccountToken({ name: 'no-metrics', namespace: ns.name, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const conn = adminConnection(ns.name);
    const s = sampler(() => ({ ...conn, kc: kubeConfigWithToken(tr.status!.token!) }));
    await s.cycle();
    const status = await service().status();
    expect(status).toMatchObject({ state: 'error', available: false });
    expect(status.error).toMatch(/^Offhost may not read metrics\.k8s\.io \(HTTP 403: .*\): grant list on pods\.metrics\.k8s\.io in the namespace/);
    const list = await service().list({ hours: 1, limit: 10 });
    expect(list.metrics.state).toBe('error');
  });

  it.runIf(backend.name === 'sqlite')('metrics.k8s.io absent (no metrics-server registered): status "unavailable" in words; back to ok once it returns', { timeout: 180_000 }, async () => {
    const reg = kube().kc.makeApiClient(k8s.ApiregistrationV1Api);
    const name = 'v1beta1.metrics.k8s.io';
    const saved = await reg.readAPIService({ name });
    const s = sampler(() => adminConnection(ns.name), { ...FAST, intervalMs: 1000 });
    try {
      await reg.deleteAPIService({ name });
      s.start();
      const status = await eventually(
        async () => {
          const st = await service().status();
          return st.state === 'unavailable' ? st : false;
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'the status to say unavailable' },
      );
      expect(status.available).toBe(false);
      expect(status.error).toMatch(/^metrics\.k8s\.io is not available \(HTTP 404.*\): install metrics-server in the cluster to see CPU and memory use\. Everything else works without it\.$/);
      // everything else works
      const list = await service().list({ hours: 1, limit: 10 });
      expect(list.metrics.state).toBe('unavailable');
    } finally {
      await reg.createAPIService({ body: { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name, labels: saved.metadata?.labels }, spec: saved.spec } });
    }
    await eventually(
      async () => {
        const st = await service().status();
        return st.state === 'ok';
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'the status to be ok again once metrics.k8s.io is back' },
    );
    await s.stop();
  });
});

/** A copy of `kc` whose requests are recorded (their URLs), to count what the sampler asks. */
function countingConfig(kc: k8s.KubeConfig, seen: string[]): k8s.KubeConfig {
  const copy = new k8s.KubeConfig();
  copy.loadFromString(kc.exportConfig());
  const apply = copy.applySecurityAuthentication.bind(copy);
  copy.applySecurityAuthentication = async (context) => {
    seen.push(context.getUrl());
    return apply(context);
  };
  return copy;
}

describe.skipIf(!isLocalCluster())('metrics sampler with two instances on one PostgreSQL', () => {
  const pg = BACKENDS.find((b) => b.name === 'postgres')!;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-metrics-leader-'));
  const cores: Core[] = [];
  let drop: (() => Promise<void>) | undefined;
  afterAll(async () => {
    for (const c of cores) await c.close().catch(() => {});
    await drop?.();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('only the Lease holder samples; when it stops, the other takes over', { timeout: 120_000 }, async () => {
    const db = await pg.create();
    drop = db.drop;
    const kube = { source: { kind: 'files' as const, files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' as const }, context: null, namespace: leaderNs.name };
    for (const name of ['a', 'b'])
      cores.push(await createCore(loadConfig({}, { dataDir: path.join(tmp, name), database: db.config, environmentsFile: null, kube, metrics: { intervalMs: 1000, rawRetentionMs: 60_000, retentionMs: 3_600_000 } }), silentLogger, 'server'));
    const [a, b] = cores as [Core, Core];
    const leader = await eventually(async () => (a.sampler!.cycles > 0 ? a : b.sampler!.cycles > 0 ? b : false), { timeoutMs: 30_000, what: 'one instance sampling' });
    const other = leader === a ? b : a;
    await new Promise((r) => setTimeout(r, 3000));
    expect(other.sampler!.cycles).toBe(0);
    expect(leader.sampler!.cycles).toBeGreaterThanOrEqual(3);
    // both serve the same status, from the store
    expect((await other.metrics.status()).state).toBe('ok');
    // the leader stops (hands the Lease over): the other samples from then on
    await leader.close();
    cores.splice(cores.indexOf(leader), 1);
    await eventually(async () => other.sampler!.cycles > 0, { timeoutMs: 30_000, what: 'the other instance to take over the sampling' });
  });
});
