// The jobs part of the UI contract (shared/api.ts): what a job looks like to the UI, and the
// inputs of jobs.list / jobs.get / jobs.cancel / jobs.log, validated with errors that name the field.
import { AppError } from './errors';
import type { JobKind } from './content';
import type { JobStatus } from './launcher-state';

/** A job as the UI sees it: its launcher status plus what it is. */
export interface JobView extends JobStatus {
  key: string;
  kind: JobKind;
  tag: string;
  bundle_id: string;
  environment_guid: string;
  image: string;
  /** The Kubernetes Job's name. */
  k8s_name: string | null;
  queued_time: string;
}

export interface JobLog {
  lines: string[];
  /** Older lines were left out (the store keeps a capped end of the log). */
  truncated: boolean;
  /** Where it came from: the running pod, the copy kept after it ended, or nowhere yet. */
  source: 'cluster' | 'store' | 'none';
}

/** One Kubernetes Event of a job's Job or pod (jobs.events), oldest first. */
export interface JobEvent {
  time: string | null;
  /** Normal or Warning. */
  type: string;
  reason: string;
  message: string;
  /** Kind/name of the object it is about, e.g. Pod/offhost-job-7-x2k9d. */
  object: string;
}

const KEY = /^[A-Za-z0-9_-]{1,64}$/;
export function parseJobKey(raw: unknown, field = 'key'): string {
  if (typeof raw !== 'string' || !KEY.test(raw)) throw new AppError('InvalidRequest', `${field} must be a job key (letters, digits, "-" or "_", at most 64), not ${JSON.stringify(raw ?? null)}.`, field);
  return raw;
}

/** The most log lines one call returns. */
export const MAX_LOG_LINES = 100_000;
export function parseMaxLines(raw: unknown): number {
  if (raw === undefined) return 5000;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > MAX_LOG_LINES) throw new AppError('InvalidRequest', `maxLines must be a whole number from 1 to ${MAX_LOG_LINES}, not ${JSON.stringify(raw)}.`, 'maxLines');
  return raw;
}
