// For metrics.bench.ts: the main process's memory with Processes at scale, in a process of its own
// (the vitest worker's RSS says little). argv: a SQLite file holding the tracked jobs and a week of
// samples. It runs what the app runs: two sampler cycles over a PodMetrics list with every running
// job's pod, processes.list of all rows, processes.summary, and one week-long job's history. Prints
// one JSON line: RSS with the modules loaded and the store open, RSS after (each after a GC, when
// --expose-gc is given), the peak, the sizes seen, and how long each read took.
import { DEFAULT_QUOTAS } from '../../shared/quota';
import { EventBus } from '../../main/events';
import { silentLogger } from '../../main/log';
import { MetricsSampler } from '../../main/metrics/sampler';
import { MetricsService } from '../../main/metrics/service';
import { DEFAULT_METRICS_OPTIONS } from '../../main/metrics/options';
import { openStore } from '../../main/store/db';
import { contentRepo } from '../../main/store/content-repo';
import { jobsRepo } from '../../main/store/jobs-repo';
import { metricsRepo } from '../../main/store/metrics-repo';

const [file, weekJobKey] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = () => {
  gc();
  return process.memoryUsage().rss / 1024 ** 2;
};
const start = mib();
const store = await openStore({ kind: 'sqlite', file: file! }, silentLogger);
const jobs = await store.db.selectFrom('jobs').innerJoin('content', 'content.id', 'jobs.content_id').select(['jobs.id', 'jobs.state', 'content.guid']).execute();
const samples = await metricsRepo.count(store.db);
const base = mib();

const events = new EventBus();
const service = new MetricsService({
  store,
  content: {
    // what ContentService.job does, without the caller's permission check
    job: async (guid: string, key: string) => {
      const content = (await contentRepo.get(store.db, guid))!;
      return { content, job: (await jobsRepo.getByKey(store.db, content.id, key))! };
    },
  },
  quotas: async () => DEFAULT_QUOTAS,
  options: DEFAULT_METRICS_OPTIONS,
  configured: true,
});
const sampler = new MetricsSampler({
  store,
  events,
  log: silentLogger,
  connect: () => {
    throw new Error('fed directly');
  },
  options: DEFAULT_METRICS_OPTIONS,
});
const running = jobs.filter((j) => j.state === 'running');
const now = Date.now();
for (const [i, at] of [now - 15_000, now].entries()) {
  const ts = new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
  const items = running.map((j) => ({
    metadata: { name: `offhost-job-${j.id}-x`, namespace: 'offhost', labels: { 'app.kubernetes.io/managed-by': 'offhost', 'offhost.dev/job-id': String(j.id), 'offhost.dev/content-guid': j.guid } },
    timestamp: ts,
    window: '15s',
    containers: [{ name: 'main', usage: { cpu: `${(j.id % 900) * 1_000_000 + i}n`, memory: `${(j.id % 500) * 1024 + 2048}Ki` } }],
  }));
  await sampler.ingest(items, at);
}
const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await f();
  return [v, performance.now() - t0];
};
const [list, listMs] = await timed(() => service.list({ hours: 168, limit: 10_000 }));
const listJsonBytes = JSON.stringify(list).length;
const [summary, summaryMs] = await timed(() => service.summary());
const guid = jobs.find((j) => j.state === 'running')!.guid;
const [week, historyMs] = await timed(() => service.jobMetrics(guid, weekJobKey!, { actor: 'bench', role: 'admin' }));
const after = mib();
const heap = process.memoryUsage().heapUsed / 1024 ** 2;
process.stdout.write(
  `${JSON.stringify({
    jobs: jobs.length,
    running: running.length,
    samples,
    rows: list.rows.length,
    withUsage: list.rows.filter((r) => r.usage).length,
    weekSamples: week.samples.length,
    listMs,
    listJsonBytes,
    summaryMs,
    historyMs,
    summaryRunning: summary.running,
    startMiB: start,
    baseMiB: base,
    heapMiB: heap,
    afterMiB: after,
    peakMiB: process.resourceUsage().maxRSS / 1024,
  })}\n`,
);
await store.close();
