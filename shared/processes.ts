// The Processes part of the UI contract (shared/api.ts, issue 11): every job across content with
// its live CPU and memory, a summary strip, and one job's usage history. The core samples
// metrics.k8s.io (PodMetrics) once per interval per namespace on the leader instance
// (main/metrics/), keeps the samples in the store (raw for an hour, minute averages for a week by
// default) and pushes the changed rows once per cycle as `processes.metrics`.
//
// Units follow DESIGN.md §5: CPU in millicores, memory in bytes, times as ISO strings.
// Percentages are computed by the UI with usagePercent() below (one definition for every view).
import { z } from 'zod';
import type { JobView } from './jobs';
import { parseJobKey } from './jobs';
import { AppError } from './errors';
import { parseWith } from './validation';

/** A job's resources as the pod got them (the quotas' clamping and defaults applied). null: none set. */
export interface ResourceFigures {
  cpu_request_millicores: number | null;
  cpu_limit_millicores: number | null;
  memory_request_bytes: number | null;
  memory_limit_bytes: number | null;
}

/** One usage figure of a job: its pod's containers summed, as metrics.k8s.io reported it. */
export interface Usage {
  /** When metrics-server measured it (the PodMetrics timestamp). */
  t: string;
  cpu_millicores: number;
  memory_bytes: number;
}

/** Is the metrics pipeline working? Shown by the UI when it is not ("everything else works"). */
export interface MetricsStatus {
  /**
   * - ok: the last cycle read metrics.k8s.io;
   * - unavailable: the API is not served (no metrics-server: HTTP 404/503) — install it to see usage;
   * - error: it answered with an error (permission, timeout, …), see `error`;
   * - stale: no cycle has run for 3 intervals (the sampling instance stopped or is cut off);
   * - starting: no cycle yet;
   * - not-configured: no cluster is configured.
   */
  state: 'ok' | 'unavailable' | 'error' | 'stale' | 'starting' | 'not-configured';
  /** True only for 'ok'. */
  available: boolean;
  /** What went wrong and what to do, in words; null when ok. */
  error: string | null;
  /** The newest sample stored (PodMetrics timestamp); null: none yet. */
  last_sample_time: string | null;
  /** When the last cycle ran (successful or not). */
  last_cycle_time: string | null;
  /** Pods metrics.k8s.io reported in the last cycle, and how many of them are our jobs' pods. */
  pods: number;
  matched: number;
  interval_seconds: number;
  /** Raw samples are kept this long, then averaged per minute. */
  raw_retention_seconds: number;
  /** Minute averages are kept this long. */
  retention_seconds: number;
}

/** One row of the Processes table: a job, its content, where it runs, and its usage now. */
export interface ProcessRow extends JobView {
  /** The job's row id (the key of `processes.metrics` rows). */
  id: number;
  content_guid: string;
  content_name: string;
  content_title: string | null;
  /**
   * Container restarts. Pods run with restartPolicy Never and the Job with backoffLimit 0, so a
   * container is never restarted and this is 0; a retry is a new job (kept as a column because
   * admins look for it, and because the pod policy may change).
   */
  restarts: number;
  resources: ResourceFigures;
  /** The latest sample when it is recent (within 3 intervals); null: none (not running, or no metrics). */
  usage: Usage | null;
}

export interface ProcessList {
  /** The server's clock: compute ages from it (created_time ?? queued_time → now). */
  now: string;
  /** Active jobs (queued, creating, pending, running; newest first), then finished ones (latest finish first). */
  rows: ProcessRow[];
  /** More finished jobs matched than `limit` allowed; active jobs are never left out. */
  truncated: boolean;
  metrics: MetricsStatus;
}

export interface AppProcessUsage {
  pid: number;
  /** CPU used by this process since the previous reading (at least 1 s back), in millicores. */
  cpu_millicores: number;
  rss_bytes: number;
  heap_used_bytes: number;
  uptime_seconds: number;
}

export interface ProcessSummary {
  now: string;
  running: number;
  /** Creating or waiting for a node / image (pending). */
  pending: number;
  queued: number;
  /** Jobs that ended failed or lost in the last hour. */
  failed_last_hour: number;
  /** Sum of the active (creating, pending, running) jobs' requests. */
  requested: { cpu_millicores: number; memory_bytes: number };
  /** Sum of the active jobs' current usage (jobs with a recent sample). */
  used: { cpu_millicores: number; memory_bytes: number };
  /**
   * The cluster's allocatable CPU and memory (schedulable nodes summed), as last read by the
   * sampler; null when unknown, with `allocatable_error` saying why (e.g. no permission to list nodes).
   */
  allocatable: { cpu_millicores: number; memory_bytes: number; nodes: number; time: string } | null;
  allocatable_error: string | null;
  metrics: MetricsStatus;
  /** This Offhost process (the instance that answered). */
  app: AppProcessUsage;
}

export interface MetricSample {
  t: string;
  cpu_millicores: number;
  memory_bytes: number;
  /** 'raw': as sampled; 'minute': the average of that minute's samples (t = the minute's start). */
  resolution: 'raw' | 'minute';
}

export interface JobMetrics {
  id: number;
  key: string;
  content_guid: string;
  state: JobView['state'];
  resources: ResourceFigures;
  /** Oldest first; minute averages for the older part, raw samples for the last hour. */
  samples: MetricSample[];
  /** When the container was killed for running out of memory (reason OOMKilled), else null. */
  oom: { t: string; message: string | null } | null;
  metrics: MetricsStatus;
}

/** Pushed once per sampling cycle: only the rows whose usage changed, plus the jobs that lost theirs. */
export interface ProcessesMetricsEvent {
  /** When the cycle ran. */
  t: string;
  rows: { id: number; cpu_millicores: number; memory_bytes: number; sample_time: string }[];
  /** Jobs whose usage went away this cycle (pod ended or metrics stopped): show none. */
  gone: number[];
  status: MetricsStatus;
}

/**
 * `used` as a percentage of `of` (a request or limit), rounded to one decimal; null when there
 * is no figure or no bound (unset, or 0).
 */
export function usagePercent(used: number | null | undefined, of: number | null | undefined): number | null {
  if (used == null || of == null || !(of > 0)) return null;
  return Math.round((used / of) * 1000) / 10;
}

// --- inputs ----------------------------------------------------------------------------------

/** processes.list: finished jobs of the last `hours` (1–168, default 24), at most `limit` of them. */
export const MAX_PROCESS_HOURS = 168;
export const MAX_PROCESS_ROWS = 10_000;
export const DEFAULT_PROCESS_HOURS = 24;
export const DEFAULT_PROCESS_LIMIT = 2000;

const processesListSchema = z
  .strictObject({
    hours: z.number().int().min(1).max(MAX_PROCESS_HOURS).optional(),
    limit: z.number().int().min(1).max(MAX_PROCESS_ROWS).optional(),
  })
  .optional()
  .nullable();

export interface ProcessesListInput {
  hours?: number;
  limit?: number;
}

export function parseProcessesListInput(raw: unknown): Required<ProcessesListInput> {
  const o = parseWith(processesListSchema, raw ?? undefined) ?? {};
  return { hours: o.hours ?? DEFAULT_PROCESS_HOURS, limit: o.limit ?? DEFAULT_PROCESS_LIMIT };
}

export interface JobMetricsInput {
  guid: string;
  key: string;
  /** ISO time: samples from then on (default: as far back as kept). */
  since?: string;
}

const ISO = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), { message: 'must be an ISO time such as 2026-01-31T12:00:00Z' });
const jobMetricsSchema = z.strictObject({ guid: z.string(), key: z.string(), since: ISO.optional() });

export function parseJobMetricsInput(raw: unknown, parseGuid: (raw: unknown) => string): JobMetricsInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('InvalidRequest', 'The input must be an object.');
  const o = parseWith(jobMetricsSchema, raw);
  return { guid: parseGuid(o.guid), key: parseJobKey(o.key), ...(o.since !== undefined ? { since: new Date(o.since).toISOString() } : {}) };
}
