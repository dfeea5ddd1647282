// Processes' metrics at scale (issue 11), on SQLite (where the store's work is done in the main
// process, the worst case for its CPU). `npm run bench` prints:
//  1. a metrics cycle over 5,000 pods: a PodMetricsList of 5,000 items (as metrics-server returns
//     it) mapped to 5,000 jobs, 5,000 new raw samples stored in one transaction, the status
//     written and one processes.metrics event built — the main process's CPU per cycle
//     (process.cpuUsage, user + system), target ≤ 200 ms; also with the list's JSON parsed first,
//     as the HTTP client does; and one minute's compaction for those 5,000 jobs.
//  2. the RSS of a process of its own (metrics-rss-child.ts) with 10,000 tracked jobs (all
//     running, so every one has a pod in the list) and a week of samples for 500 of them (minute
//     averages for 7 days + raw for the last hour, 5.2 million rows), after two sampler cycles,
//     processes.list of all 10,000 rows, the summary and one week-long history.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import SQLite from 'better-sqlite3';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { EventBus } from '../../main/events';
import { silentLogger } from '../../main/log';
import { DEFAULT_METRICS_OPTIONS, retentionCuts } from '../../main/metrics/options';
import { MetricsSampler } from '../../main/metrics/sampler';
import { openStore, type Store } from '../../main/store/db';
import { metricsRepo, type SampleRow } from '../../main/store/metrics-repo';
import { podMetrics, seedContent, seedJobs, type SeededJob } from '../integration/metrics-seed';

const PODS = 5000;
const TRACKED = 10_000;
const WEEK_JOBS = 500;

let dir: string;
let store: Store;
let sampler: MetricsSampler;
let jobs: SeededJob[];
let at = Date.now() - 3_600_000;
const cpu: Record<'ingest' | 'parse+ingest', number[]> = { ingest: [], 'parse+ingest': [] };
const wall: Record<'ingest' | 'parse+ingest', number[]> = { ingest: [], 'parse+ingest': [] };
let compactMs = 0;
let rss: Record<string, number> | undefined;
let seededIn = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bench-metrics-'));
  store = await openStore({ kind: 'sqlite', file: path.join(dir, 'cycle.db') }, silentLogger);
  const content = await seedContent(store);
  jobs = await seedJobs(store, content, PODS);
  sampler = new MetricsSampler({
    store,
    events: new EventBus(),
    log: silentLogger,
    connect: () => {
      throw new Error('fed directly');
    },
    options: DEFAULT_METRICS_OPTIONS,
  });
}, 120_000);

/** The next cycle's list: every pod measured again 15 s later, figures varying. */
function nextList() {
  at += 15_000;
  const ts = new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
  return { items: jobs.map((j, i) => podMetrics(j, `${((i * 7919 + at / 1000) % 2000) * 1_000_000 + 12345}n`, `${(i % 700) * 1024 + 65536}Ki`, ts)), at };
}

async function measure(kind: 'ingest' | 'parse+ingest') {
  const { items, at: now } = nextList();
  const text = JSON.stringify({ kind: 'PodMetricsList', apiVersion: 'metrics.k8s.io/v1beta1', metadata: {}, items });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const list = kind === 'ingest' ? items : (JSON.parse(text) as { items: typeof items }).items;
  const event = await sampler.ingest(list, now);
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  if (event.status.matched !== PODS) throw new Error(`matched ${event.status.matched} of ${PODS}`);
  cpu[kind].push((c.user + c.system) / 1000);
  wall[kind].push(t1 - t0);
}

afterAll(async () => {
  // one minute's compaction: the raw samples of the oldest minute of the cycles above
  const firstMinute = Math.floor((Date.now() - 3_600_000) / 60_000) * 60 + 60;
  const t0 = performance.now();
  const r = await metricsRepo.compact(store.db, firstMinute + 60, retentionCuts(Math.floor(Date.now() / 1000), DEFAULT_METRICS_OPTIONS).minuteCut);
  compactMs = performance.now() - t0;
  await store?.close();
  rss = await measureRss();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`;
  };
  const out = [
    `\nmetrics: one cycle over ${PODS} pods (map + store ${PODS} samples + status + event), main-process CPU ${stats(cpu.ingest)} (target ≤ 200 ms), wall ${stats(wall.ingest)}, ${cpu.ingest.length} cycles`,
    `metrics: the same with the PodMetricsList's JSON parsed first: CPU ${stats(cpu['parse+ingest'])}, wall ${stats(wall['parse+ingest'])}`,
    `metrics: compacting one minute of ${PODS} jobs (${r.averaged} averages written, ${r.rawDeleted} raw samples deleted): ${compactMs.toFixed(0)} ms`,
    rss
      ? `metrics: RSS of a process with ${rss.jobs} tracked jobs (${rss.running} running, each in the PodMetrics list) and a week of samples for ${WEEK_JOBS} of them (${rss.samples} rows; seeded in ${(seededIn / 1000).toFixed(0)} s): ${rss.afterMiB!.toFixed(0)} MiB after two cycles, processes.list of ${rss.rows} rows, the summary and a ${rss.weekSamples}-point history (${rss.startMiB!.toFixed(0)} MiB with the modules loaded, ${rss.baseMiB!.toFixed(0)} MiB with the store open and its jobs read; JS heap in use after ${rss.heapMiB!.toFixed(0)} MiB; peak RSS ${rss.peakMiB!.toFixed(0)} MiB)`
      : 'metrics: RSS not measured',
    rss
      ? `metrics: in that process, processes.list of ${rss.rows} rows ${rss.listMs!.toFixed(0)} ms (${(rss.listJsonBytes! / 1024 ** 2).toFixed(1)} MiB as JSON), processes.summary ${rss.summaryMs!.toFixed(0)} ms, jobs.metrics of a week (${rss.weekSamples} points) ${rss.historyMs!.toFixed(0)} ms`
      : '',
  ];
  process.stdout.write(out.join('\n') + '\n');
}, 600_000);

/** 10,000 jobs and a week of samples for 500 of them in a fresh file, then the child's figures. */
async function measureRss(): Promise<Record<string, number>> {
  const t0 = performance.now();
  const file = path.join(dir, 'rss.db');
  const s = await openStore({ kind: 'sqlite', file }, silentLogger);
  const content = await seedContent(s);
  const tracked = await seedJobs(s, content, TRACKED);
  await s.close();
  // a week of samples, written the fast way (the product writes them one cycle at a time)
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare('insert into job_metrics (job_id, res, t, cpu_millicores, memory_bytes) values (?, ?, ?, ?, ?)');
  const nowSec = Math.floor(Date.now() / 1000);
  const { rawCut } = retentionCuts(nowSec, DEFAULT_METRICS_OPTIONS);
  const week = tracked.slice(0, WEEK_JOBS);
  const write = db.transaction((rows: SampleRow[], res: number) => {
    for (const r of rows) insert.run(r.job_id, res, r.t, r.cpu_millicores, r.memory_bytes);
  });
  for (const j of week) {
    const minutes: SampleRow[] = [];
    for (let t = rawCut - 7 * 86_400; t < rawCut; t += 60) minutes.push({ job_id: j.id, t, cpu_millicores: (t / 60) % 1000, memory_bytes: 100_000_000 + (t % 7) * 4096 });
    write(minutes, 60);
    const raw: SampleRow[] = [];
    for (let t = rawCut; t < nowSec - 30; t += 15) raw.push({ job_id: j.id, t, cpu_millicores: t % 1000, memory_bytes: 100_000_000 });
    write(raw, 0);
  }
  db.close();
  seededIn = performance.now() - t0;
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/bench/metrics-rss-child.ts', file, week[0]!.key], { timeout: 300_000, maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
}

describe(`metrics cycle over ${PODS} pods (SQLite)`, () => {
  bench('map + store + status + event', () => measure('ingest'), { iterations: 10, warmupIterations: 1, time: 0 });
  bench('JSON.parse of the list + map + store + status + event', () => measure('parse+ingest'), { iterations: 10, warmupIterations: 1, time: 0 });
});
