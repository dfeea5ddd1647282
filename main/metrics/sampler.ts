// The metrics sampler (issue 11; DESIGN.md §3 "metrics sampler"): once per interval it lists
// metrics.k8s.io PodMetrics in the execution namespace on our label selector — one request per
// namespace, never one per pod — maps them to jobs (pod-metrics.ts), stores the samples in one
// batched transaction, pushes the changed rows as one `processes.metrics` event, and records its
// status where every instance reads it. Once a minute it averages raw samples older than the raw
// retention per minute and deletes what is older than the retention, and reads the nodes'
// allocatable CPU and memory for the summary.
//
// It runs only on the leader (the holder of the launcher's Lease, main/core.ts), so several
// instances on one database sample once. A missing metrics API (no metrics-server) or a failing
// one is a status, never a failure: the rest of the app does not depend on it.
import * as k8s from '@kubernetes/client-node';
import { parseCpu, parseMemory } from '../../shared/quantity';
import type { MetricsStatus, ProcessesMetricsEvent } from '../../shared/processes';
import type { EventBus } from '../events';
import type { KubeConnection } from '../kube/config';
import { describeError, statusOf } from '../kube/errors';
import { JOB_SELECTOR } from '../kube/manifests';
import type { Logger } from '../log';
import type { Store } from '../store/db';
import { metricsRepo } from '../store/metrics-repo';
import { diffUsage, mapPodMetrics, type Current, type PodMetricsItem } from './pod-metrics';
import { retentionCuts, type MetricsOptions } from './options';

/** Where the sampler's status is kept (the settings table), for every instance to read. */
export const STATUS_KEY = 'metrics.status';
/** How long after a job ends its pod may still be listed with figures. */
const RECENTLY_ENDED_MS = 5 * 60_000;
const MAINTENANCE_MS = 60_000;
const REQUEST_TIMEOUT_MS = 10_000;

export interface Allocatable {
  cpu_millicores: number;
  memory_bytes: number;
  nodes: number;
  time: string;
}

/** What the sampler stores under STATUS_KEY. */
export interface StoredStatus {
  state: 'ok' | 'unavailable' | 'error';
  error: string | null;
  last_sample_time: string | null;
  last_cycle_time: string;
  pods: number;
  matched: number;
  cycle_ms: number;
  interval_seconds: number;
  allocatable: Allocatable | null;
  allocatable_error: string | null;
}

export interface SamplerDeps {
  store: Store;
  events: EventBus;
  log: Logger;
  /** Loads the configured cluster (may throw: it is retried next interval). */
  connect: () => KubeConnection;
  options: MetricsOptions;
  /** Epoch milliseconds (tests move time). */
  now?: () => number;
}

export class MetricsSampler {
  private readonly now: () => number;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private client: { conn: KubeConnection; custom: k8s.CustomObjectsApi; core: k8s.CoreV1Api } | undefined;
  /** Each job's figures as last pushed (what the next event is compared with). */
  private current = new Map<number, Current>();
  /** The newest sample time stored per job, so an unchanged PodMetrics timestamp is not stored twice. */
  private stored = new Map<number, number>();
  private lastMaintenance = 0;
  private allocatable: { value: Allocatable | null; error: string | null } = { value: null, error: null };
  private lastSampleTime: string | null = null;
  private lastProblem = '';
  /** Cycles run since start (tests wait on it). */
  cycles = 0;

  constructor(private readonly deps: SamplerDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = () => {
      this.running = this.cycle()
        .catch((e: unknown) => this.deps.log.warn({ err: { message: describeError(e) } }, 'metrics: cycle failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.deps.options.intervalMs).unref();
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    this.client = undefined;
    this.current.clear();
    this.stored.clear();
  }

  /**
   * One cycle: list, map, store, push. Once a minute also the nodes (before the list, so the
   * summary has them even while metrics fail) and the store's compaction (after, whatever the list
   * gave: retention holds during an outage too).
   */
  async cycle(): Promise<void> {
    const started = this.now();
    const maintenance = started - this.lastMaintenance >= MAINTENANCE_MS;
    if (maintenance) {
      this.lastMaintenance = started;
      await this.readNodes();
    }
    let items: PodMetricsItem[] | undefined;
    try {
      const c = this.connection();
      const list = (await within(
        c.custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace: c.conn.namespace, plural: 'pods', labelSelector: JOB_SELECTOR }),
      )) as { items?: PodMetricsItem[] };
      items = list.items ?? [];
    } catch (e) {
      await this.failed(e, started);
    }
    if (items) await this.ingest(items, started);
    if (maintenance) await this.compact(started);
  }

  /**
   * The cycle's mapping and store step for one PodMetrics list (what the benchmark measures):
   * which jobs may have pods, their samples, one batched insert, the status, one event.
   */
  async ingest(items: readonly PodMetricsItem[], nowMs: number): Promise<ProcessesMetricsEvent> {
    const db = this.deps.store.db;
    const nowSec = Math.floor(nowMs / 1000);
    const known = await this.knownJobs(nowMs);
    const mapped = mapPodMetrics(items, known, nowSec);
    const fresh = mapped.samples.filter((s) => (this.stored.get(s.job_id) ?? -1) < s.t);
    await metricsRepo.insertRaw(db, fresh);
    for (const s of fresh) this.stored.set(s.job_id, s.t);
    for (const id of this.stored.keys()) if (!known.has(id)) this.stored.delete(id);
    const { changed, gone } = diffUsage(this.current, mapped.samples);
    const next = new Map<number, Current>();
    let newest = -1;
    for (const s of mapped.samples) {
      next.set(s.job_id, { t: s.t, cpu_millicores: s.cpu_millicores, memory_bytes: s.memory_bytes });
      if (s.t > newest) newest = s.t;
    }
    this.current = next;
    if (newest >= 0) this.lastSampleTime = new Date(newest * 1000).toISOString();
    if (mapped.bad && mapped.problems.join() !== this.lastProblem) {
      this.lastProblem = mapped.problems.join();
      this.deps.log.warn({ problems: mapped.problems }, `metrics: ${mapped.bad} pod metrics could not be read`);
    }
    const status = await this.saveStatus({ state: 'ok', error: null, pods: mapped.pods, matched: mapped.matched }, nowMs);
    const event: ProcessesMetricsEvent = {
      t: new Date(nowMs).toISOString(),
      rows: changed.map((s) => ({ id: s.job_id, cpu_millicores: s.cpu_millicores, memory_bytes: s.memory_bytes, sample_time: new Date(s.t * 1000).toISOString() })),
      gone,
      status,
    };
    this.deps.events.emit('processes.metrics', event);
    this.cycles++;
    return event;
  }

  /** Average old raw samples per minute and drop what is past the retention. */
  async compact(nowMs: number): Promise<void> {
    const { rawCut, minuteCut } = retentionCuts(Math.floor(nowMs / 1000), this.deps.options);
    try {
      await metricsRepo.compact(this.deps.store.db, rawCut, minuteCut);
    } catch (e) {
      this.deps.log.warn({ err: { message: describeError(e) } }, 'metrics: cannot compact old samples; will retry');
    }
  }

  private connection() {
    if (!this.client) {
      const conn = this.deps.connect();
      this.client = { conn, custom: conn.kc.makeApiClient(k8s.CustomObjectsApi), core: conn.kc.makeApiClient(k8s.CoreV1Api) };
    }
    return this.client;
  }

  /** Jobs that may have a pod now: active ones and those that ended a few minutes ago (id → content guid). */
  private async knownJobs(nowMs: number): Promise<Map<number, string>> {
    const since = new Date(nowMs - RECENTLY_ENDED_MS).toISOString();
    const rows = await this.deps.store.db
      .selectFrom('jobs')
      .innerJoin('content', 'content.id', 'jobs.content_id')
      .select(['jobs.id as id', 'content.guid as guid'])
      .where((eb) => eb.or([eb('jobs.state', 'in', ['creating', 'pending', 'running']), eb('jobs.finished_time', '>=', since)]))
      .execute();
    return new Map(rows.map((r) => [r.id, r.guid.toLowerCase()]));
  }

  private async readNodes(): Promise<void> {
    try {
      const nodes = await within(this.connection().core.listNode());
      let cpu = 0;
      let memory = 0;
      let n = 0;
      for (const node of nodes.items) {
        if (node.spec?.unschedulable) continue;
        const a = node.status?.allocatable ?? {};
        try {
          cpu += a.cpu ? parseCpu(a.cpu) : 0;
          memory += a.memory ? parseMemory(a.memory) : 0;
          n++;
        } catch {
          // a node with an unreadable figure is left out of the sum
        }
      }
      this.allocatable = { value: { cpu_millicores: cpu, memory_bytes: memory, nodes: n, time: new Date(this.now()).toISOString() }, error: null };
    } catch (e) {
      const code = statusOf(e);
      this.allocatable = {
        value: null,
        error:
          code === 403
            ? "Offhost may not list nodes, so the cluster's allocatable CPU and memory are unknown. Grant list on nodes (a ClusterRole) to show them."
            : `Cannot read the nodes' allocatable CPU and memory: ${describeError(e)}`,
      };
    }
  }

  private async failed(e: unknown, nowMs: number): Promise<void> {
    this.client = undefined;
    const code = statusOf(e);
    // The apiserver's words on one line (a bare 404 says "404 page not found\n").
    const why = describeError(e).replace(/\s+/g, ' ').trim();
    const unavailable = code === 404 || code === 503;
    const error = unavailable
      ? `metrics.k8s.io is not available (${why}): install metrics-server in the cluster to see CPU and memory use. Everything else works without it.`
      : code === 403
        ? `Offhost may not read metrics.k8s.io (${why}): grant list on pods.metrics.k8s.io in the namespace to see CPU and memory use.`
        : `Cannot read metrics.k8s.io: ${why}. Retrying every ${this.deps.options.intervalMs / 1000} s.`;
    const gone = [...this.current.keys()];
    this.current.clear();
    try {
      const status = await this.saveStatus({ state: unavailable ? 'unavailable' : 'error', error, pods: 0, matched: 0 }, nowMs);
      this.deps.events.emit('processes.metrics', { t: new Date(nowMs).toISOString(), rows: [], gone, status });
    } catch (err) {
      this.deps.log.warn({ err: { message: describeError(err) } }, 'metrics: cannot record the status');
    }
    if (error !== this.lastProblem) {
      this.lastProblem = error;
      this.deps.log.warn({ code }, `metrics: ${error}`);
    }
    this.cycles++;
  }

  private async saveStatus(s: Pick<StoredStatus, 'state' | 'error' | 'pods' | 'matched'>, startedMs: number): Promise<MetricsStatus> {
    const stored: StoredStatus = {
      ...s,
      last_sample_time: this.lastSampleTime,
      last_cycle_time: new Date(startedMs).toISOString(),
      cycle_ms: Math.max(0, this.now() - startedMs),
      interval_seconds: this.deps.options.intervalMs / 1000,
      allocatable: this.allocatable.value,
      allocatable_error: this.allocatable.error,
    };
    await metricsRepo.putSetting(this.deps.store.db, STATUS_KEY, JSON.stringify(stored));
    return presentStatus(stored, this.deps.options, startedMs);
  }
}

/** The status as the API shows it: a status older than 3 intervals is 'stale'. */
export function presentStatus(stored: StoredStatus | null, options: MetricsOptions, nowMs: number, configured = true): MetricsStatus {
  const base = {
    interval_seconds: options.intervalMs / 1000,
    raw_retention_seconds: options.rawRetentionMs / 1000,
    retention_seconds: options.retentionMs / 1000,
  };
  if (!configured)
    return { ...base, state: 'not-configured', available: false, error: 'No cluster is configured, so there is no CPU or memory use to show.', last_sample_time: null, last_cycle_time: null, pods: 0, matched: 0 };
  if (!stored) return { ...base, state: 'starting', available: false, error: null, last_sample_time: null, last_cycle_time: null, pods: 0, matched: 0 };
  const common = { ...base, last_sample_time: stored.last_sample_time, last_cycle_time: stored.last_cycle_time, pods: stored.pods, matched: stored.matched };
  const age = nowMs - Date.parse(stored.last_cycle_time);
  const staleAfter = 3 * Math.max(options.intervalMs, stored.interval_seconds * 1000);
  if (age > staleAfter)
    return { ...common, state: 'stale', available: false, error: `No metrics cycle for ${Math.round(age / 1000)} s: the instance that samples (the launcher's leader) may have stopped or lost the cluster.` };
  return { ...common, state: stored.state, available: stored.state === 'ok', error: stored.error };
}

function within<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
      timer.unref();
    }),
  ]);
}
