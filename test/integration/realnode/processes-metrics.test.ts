/**
 * The metrics sampler on the real node (issue 11): a job whose container spins a busy loop on
 * real-0 (kubelet + containerd) is measured by metrics-server scraping the real kubelet, and the
 * sampler stores and shows its real CPU (≥ 0.4 core of its 1-core limit) and the memory it
 * touched. SQLite store (the realnode project has no PostgreSQL; the cluster tests cover both).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usagePercent } from '../../../shared/processes.js';
import { placementFromEnv } from '../../../main/kube/placement.js';
import { loadKube } from '../../../main/kube/config.js';
import { silentLogger } from '../../../main/log.js';
import { MetricsSampler } from '../../../main/metrics/sampler.js';
import { MetricsService } from '../../../main/metrics/service.js';
import { metricsRepo } from '../../../main/store/metrics-repo.js';
import { BACKENDS } from '../backends.js';
import { eventually, kube, kubeconfigPath } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { startHarness, type Harness } from '../cluster/launcher-harness.js';
import { figure, imageMeta, realNodeSkip, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();
const sqlite = BACKENDS.find((b) => b.name === 'sqlite')!;
const MiB = 2 ** 20;
const BUSY = ['python3', '-c', 'x = bytearray(48 * 1024 * 1024)\nfor i in range(len(x) // 4096): x[i * 4096] = 1\nwhile True: pass'];
const OPTIONS = { intervalMs: 2000, rawRetentionMs: 60_000, retentionMs: 3_600_000 };

describe.skipIf(!!skip)('the metrics sampler on the real node', () => {
  const ns = useRealNodeNamespace('rn-metrics');
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  let sampler: MetricsSampler | undefined;

  beforeAll(async () => {
    await kube().core.patchNamespace({ name: ns.name, body: [{ op: 'add', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'restricted' }] });
    const placement = placementFromEnv({
      OFFHOST_JOB_NODE_SELECTOR: JSON.stringify({ 'kubernetes.io/hostname': REAL_NODE_NAME }),
      OFFHOST_JOB_TOLERATIONS: JSON.stringify([{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }]),
    });
    h = await startHarness(sqlite, ns.name, { options: { placement }, testContainerCommand: () => BUSY });
  }, 120_000);
  afterAll(async () => {
    await sampler?.stop();
    await h?.drop();
  });

  it('a busy loop shows real CPU (≥ 0.4 core) and the memory it touched, stored and listed', { timeout: 180_000 }, async () => {
    const c = await h!.content('python-api');
    const resources = { cpu_request_millicores: 1000, cpu_limit_millicores: 1000, memory_request_bytes: 64 * MiB, memory_limit_bytes: 256 * MiB };
    const job = await h!.addJob(c, 'run', 'python-api', { image: imageMeta('python').ref, resources });
    const running = await h!.waitFor(job.id, (j) => j.state === 'running' || j.state === 'failed' || j.state === 'succeeded', 120_000);
    expect(running.state, JSON.stringify(running)).toBe('running');
    expect(running.node_name).toBe(REAL_NODE_NAME);

    sampler = new MetricsSampler({
      store: h!.store,
      events: h!.events,
      log: silentLogger,
      connect: () => loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name }),
      options: OPTIONS,
    });
    const t0 = Date.now();
    sampler.start();
    const sample = await eventually(
      async () => {
        const s = (await metricsRepo.latest(h!.store.db, 0)).get(job.id);
        return s && s.cpu_millicores >= 400 ? s : undefined;
      },
      { what: 'a stored sample of the busy job with ≥ 0.4 core', timeoutMs: 150_000, intervalMs: 1000 },
    );
    expect(sample.cpu_millicores).toBeLessThanOrEqual(1100); // its limit is one core
    expect(sample.memory_bytes).toBeGreaterThan(48 * MiB);
    const list = await new MetricsService({ store: h!.store, content: { job: async () => { throw new Error('not used'); } }, quotas: async () => h!.quotas, options: OPTIONS, configured: true }).list({ hours: 1, limit: 10 });
    const row = list.rows.find((r) => r.id === job.id)!;
    expect(row.usage!.cpu_millicores).toBeGreaterThanOrEqual(400);
    expect(list.metrics.state).toBe('ok');
    figure(
      'busy job through the metrics sampler',
      `${sample.cpu_millicores}m CPU (${usagePercent(sample.cpu_millicores, row.resources.cpu_limit_millicores)}% of its limit), ${(sample.memory_bytes / MiB).toFixed(0)} MiB, stored ${((Date.now() - t0) / 1000).toFixed(0)} s after the sampler started`,
    );
    await h!.launcher.cancel(job.id, 'test');
  });
});
