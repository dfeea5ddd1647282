// The read side of Processes (shared/processes.ts): the table's rows with each job's latest
// usage, the summary strip, and one job's history. Every instance answers from the store (the
// sampler, on the leader, writes samples and its status there), so any instance behind a load
// balancer shows the same figures.
import { AppError } from '../../shared/errors';
import type { JobState } from '../../shared/content';
import type {
  JobMetrics,
  MetricsStatus,
  ProcessList,
  ProcessRow,
  ProcessSummary,
  ResourceFigures,
} from '../../shared/processes';
import { effectiveResources, type Quotas } from '../../shared/quota';
import { jobView } from '../api/job-view';
import type { Caller, ContentService } from '../content/service';
import type { Store } from '../store/db';
import type { JobResources } from '../store/jobs-repo';
import { metricsRepo, MINUTE } from '../store/metrics-repo';
import { AppUsage } from './app-usage';
import type { MetricsOptions } from './options';
import { STATUS_KEY, presentStatus, type StoredStatus } from './sampler';

const ACTIVE: JobState[] = ['queued', 'creating', 'pending', 'running'];
/** A sample older than this many intervals is not "now". */
const CURRENT_INTERVALS = 3;

export interface MetricsServiceDeps {
  store: Store;
  content: Pick<ContentService, 'job'>;
  quotas: () => Promise<Quotas>;
  options: MetricsOptions;
  /** A cluster is configured (else the status says so). */
  configured: boolean;
  now?: () => number;
}

/** The job columns the table shows (never the kept log). */
const JOB_COLUMNS = [
  'jobs.id as id',
  'jobs.key as key',
  'jobs.kind as kind',
  'jobs.tag as tag',
  'jobs.state as state',
  'jobs.bundle_id as bundle_id',
  'jobs.environment_guid as environment_guid',
  'jobs.image as image',
  'jobs.resources as resources',
  'jobs.k8s_name as k8s_name',
  'jobs.node_name as node_name',
  'jobs.queued_time as queued_time',
  'jobs.created_time as created_time',
  'jobs.scheduled_time as scheduled_time',
  'jobs.image_pulled_time as image_pulled_time',
  'jobs.started_time as started_time',
  'jobs.ready_time as ready_time',
  'jobs.finished_time as finished_time',
  'jobs.exit_code as exit_code',
  'jobs.reason as reason',
  'jobs.message as message',
  'content.guid as content_guid',
  'content.name as content_name',
  'content.title as content_title',
] as const;

export class MetricsService {
  private readonly now: () => number;
  private readonly app = new AppUsage();

  constructor(private readonly deps: MetricsServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async status(nowMs = this.now()): Promise<MetricsStatus> {
    return presentStatus(await this.stored(), this.deps.options, nowMs, this.deps.configured);
  }

  /** Active jobs, then the finished ones of the last `hours` (newest first, at most `limit`). */
  async list({ hours, limit }: { hours: number; limit: number }): Promise<ProcessList> {
    const nowMs = this.now();
    const db = this.deps.store.db;
    const base = () => db.selectFrom('jobs').innerJoin('content', 'content.id', 'jobs.content_id').select(JOB_COLUMNS);
    const since = new Date(nowMs - hours * 3_600_000).toISOString();
    const [active, finished, latest, stored, quotas] = await Promise.all([
      base().where('jobs.state', 'in', ACTIVE).orderBy('jobs.id', 'desc').execute(),
      base().where('jobs.state', 'not in', ACTIVE).where('jobs.finished_time', '>=', since).orderBy('jobs.finished_time', 'desc').orderBy('jobs.id', 'desc').limit(limit + 1).execute(),
      metricsRepo.latest(db, this.currentSince(nowMs)),
      this.stored(),
      this.deps.quotas(),
    ]);
    const truncated = finished.length > limit;
    const figures = new Figures(quotas);
    const rows: ProcessRow[] = [];
    for (const r of [...active, ...finished.slice(0, limit)]) {
      const u = latest.get(r.id);
      rows.push({
        ...jobView({ ...r, kind: r.kind as ProcessRow['kind'], state: r.state as JobState }),
        id: r.id,
        content_guid: r.content_guid,
        content_name: r.content_name,
        content_title: r.content_title,
        restarts: 0,
        resources: figures.of(r.resources),
        usage: u ? { t: iso(u.t), cpu_millicores: u.cpu_millicores, memory_bytes: u.memory_bytes } : null,
      });
    }
    return { now: new Date(nowMs).toISOString(), rows, truncated, metrics: presentStatus(stored, this.deps.options, nowMs, this.deps.configured) };
  }

  async summary(): Promise<ProcessSummary> {
    const nowMs = this.now();
    const db = this.deps.store.db;
    const hourAgo = new Date(nowMs - 3_600_000).toISOString();
    const [counts, failed, active, latest, stored, quotas] = await Promise.all([
      db
        .selectFrom('jobs')
        .select(['state', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('state', 'in', ACTIVE)
        .groupBy('state')
        .execute(),
      db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('state', 'in', ['failed', 'lost'])
        .where('finished_time', '>=', hourAgo)
        .executeTakeFirstOrThrow(),
      db.selectFrom('jobs').select(['id', 'resources']).where('state', 'in', ['creating', 'pending', 'running']).execute(),
      metricsRepo.latest(db, this.currentSince(nowMs)),
      this.stored(),
      this.deps.quotas(),
    ]);
    const n = (s: JobState) => Number(counts.find((c) => c.state === s)?.n ?? 0);
    const figures = new Figures(quotas);
    const requested = { cpu_millicores: 0, memory_bytes: 0 };
    const used = { cpu_millicores: 0, memory_bytes: 0 };
    for (const j of active) {
      const f = figures.of(j.resources);
      requested.cpu_millicores += f.cpu_request_millicores ?? 0;
      requested.memory_bytes += f.memory_request_bytes ?? 0;
      const u = latest.get(j.id);
      if (u) {
        used.cpu_millicores += u.cpu_millicores;
        used.memory_bytes += u.memory_bytes;
      }
    }
    return {
      now: new Date(nowMs).toISOString(),
      running: n('running'),
      pending: n('creating') + n('pending'),
      queued: n('queued'),
      failed_last_hour: Number(failed.n),
      requested,
      used,
      allocatable: stored?.allocatable ?? null,
      allocatable_error: stored ? stored.allocatable_error : this.deps.configured ? null : 'No cluster is configured.',
      metrics: presentStatus(stored, this.deps.options, nowMs, this.deps.configured),
      app: this.app.read(),
    };
  }

  /** One job's samples (its content's publishers may read them), with its request, limit and OOM moment. */
  async jobMetrics(guid: string, key: string, caller: Caller, since?: string): Promise<JobMetrics> {
    const { content, job } = await this.deps.content.job(guid, key, caller);
    const nowMs = this.now();
    const oldest = Math.floor((nowMs - this.deps.options.retentionMs) / 1000);
    const from = since === undefined ? oldest : Math.max(oldest, Math.floor(Date.parse(since) / 1000));
    if (!Number.isFinite(from)) throw new AppError('InvalidRequest', '"since" must be an ISO time.', 'since');
    const [samples, stored, quotas] = await Promise.all([metricsRepo.history(this.deps.store.db, job.id, from), this.stored(), this.deps.quotas()]);
    const oom = job.reason === 'OOMKilled' ? { t: job.finished_time ?? job.updated_time, message: job.message } : null;
    return {
      id: job.id,
      key: job.key,
      content_guid: content.guid,
      state: job.state,
      resources: new Figures(quotas).of(job.resources),
      samples: samples.map((s) => ({ t: iso(s.t), cpu_millicores: s.cpu_millicores, memory_bytes: s.memory_bytes, resolution: s.res === MINUTE ? 'minute' : 'raw' })),
      oom,
      metrics: presentStatus(stored, this.deps.options, nowMs, this.deps.configured),
    };
  }

  private currentSince(nowMs: number): number {
    return Math.floor((nowMs - CURRENT_INTERVALS * this.deps.options.intervalMs) / 1000);
  }

  private async stored(): Promise<StoredStatus | null> {
    const row = await this.deps.store.db.selectFrom('settings').select('value').where('key', '=', STATUS_KEY).executeTakeFirst();
    if (!row) return null;
    try {
      return JSON.parse(row.value) as StoredStatus;
    } catch {
      return null;
    }
  }
}

const iso = (sec: number) => new Date(sec * 1000).toISOString();

/**
 * A job's request and limit as its pod got them: the settings saved with the job, with the
 * quotas' defaults and bounds applied as the launcher applies them (shared/quota.ts). The same
 * resources JSON is parsed once per call.
 */
class Figures {
  private readonly cache = new Map<string, ResourceFigures>();
  constructor(private readonly quotas: Quotas) {}

  of(json: string | JobResources): ResourceFigures {
    const key = typeof json === 'string' ? json : JSON.stringify(json);
    let f = this.cache.get(key);
    if (!f) {
      f = resourceFigures(typeof json === 'string' ? (JSON.parse(json) as JobResources) : json, this.quotas);
      this.cache.set(key, f);
    }
    return f;
  }
}

export function resourceFigures(r: JobResources, quotas: Quotas): ResourceFigures {
  const own: ResourceFigures = {
    cpu_request_millicores: r.cpu_request_millicores,
    cpu_limit_millicores: r.cpu_limit_millicores,
    memory_request_bytes: r.memory_request_bytes,
    memory_limit_bytes: r.memory_limit_bytes,
  };
  try {
    const cores = (m: number | null) => (m === null ? null : m / 1000);
    const eff = effectiveResources(
      { cpu_request: cores(r.cpu_request_millicores), cpu_limit: cores(r.cpu_limit_millicores), memory_request: r.memory_request_bytes, memory_limit: r.memory_limit_bytes, service_account_name: r.service_account_name },
      quotas,
    );
    if (eff.refused) return own;
    return {
      cpu_request_millicores: Math.round(eff.cpu_request * 1000),
      cpu_limit_millicores: Math.round(eff.cpu_limit * 1000),
      memory_request_bytes: eff.memory_request,
      memory_limit_bytes: eff.memory_limit,
    };
  } catch {
    return own;
  }
}
