// A job's phases as a timeline, and what it is doing now in plain words (pure; unit-tested).
import type { JobView } from '../../../shared/jobs';
import { isTerminal } from '../../../shared/launcher-state';

export interface Phase {
  id: 'queued' | 'created' | 'scheduled' | 'pulled' | 'started' | 'ready' | 'finished';
  label: string;
  /** ISO time it happened; null: not (yet). */
  at: string | null;
  /** ms from the previous phase that happened to this one. */
  took: number | null;
  /** The phase the job is in now (the next one to happen). */
  current: boolean;
  /** Will not happen: the job ended before it (or the kind has no such phase). */
  skipped: boolean;
}

const PHASES: { id: Phase['id']; label: string; field: keyof JobView }[] = [
  { id: 'queued', label: 'Queued', field: 'queued_time' },
  { id: 'created', label: 'Job created', field: 'created_time' },
  { id: 'scheduled', label: 'Scheduled on a node', field: 'scheduled_time' },
  { id: 'pulled', label: 'Image pulled', field: 'image_pulled_time' },
  { id: 'started', label: 'Container started', field: 'started_time' },
  { id: 'ready', label: 'Ready', field: 'ready_time' },
  { id: 'finished', label: 'Finished', field: 'finished_time' },
];

export function phases(job: JobView): Phase[] {
  const ended = isTerminal(job.state);
  const out: Phase[] = [];
  let prev: string | null = null;
  let currentSet = false;
  for (const p of PHASES) {
    const at = (job[p.field] as string | null) ?? null;
    const took = at && prev ? Math.max(0, Date.parse(at) - Date.parse(prev)) : null;
    let current = false;
    let skipped = false;
    if (!at) {
      if (ended && p.id !== 'finished') skipped = true;
      else if (!ended && !currentSet) current = currentSet = true;
    }
    out.push({ id: p.id, label: p.label, at, took, current, skipped });
    if (at) prev = at;
  }
  return out;
}

/** While a job starts (or waits): what it waits for, in words a person can act on. Null once it runs or ended. */
export function launchProgress(job: JobView): string | null {
  const why = job.message ? ` ${job.message}` : '';
  switch (job.state) {
    case 'queued':
      return job.kind === 'build'
        ? 'Waiting in the queue: it starts when a slot is free (the quotas’ maximum of concurrent jobs).'
        : 'Waiting in the queue: it starts once its build has succeeded and a slot is free (the quotas’ maximum of concurrent jobs).';
    case 'creating':
      return 'Creating its Kubernetes Job…';
    case 'pending':
      if (!job.scheduled_time) return `Waiting for a node to run it.${job.reason ? ` ${job.reason}:` : ''}${why}`.trim();
      if (!job.image_pulled_time)
        return job.reason && /Image|Pull/i.test(job.reason)
          ? `Cannot get the image ${job.image} (${job.reason}).${why} Check the image name and that the node may pull it.`
          : `Pulling the image ${job.image} on ${job.node_name ?? 'its node'}…`;
      return `Starting the container${job.reason ? ` (${job.reason})` : ''}…${why}`;
    case 'running':
      if (job.kind === 'run' && !job.ready_time) return 'Started; waiting until it answers its readiness check…';
      return null;
    default:
      return null;
  }
}

/** How a job ended, in words. */
export function outcome(job: JobView): string | null {
  switch (job.state) {
    case 'succeeded':
      return 'Finished successfully.';
    case 'failed':
      if (job.reason === 'OOMKilled') return `Killed for running out of memory (exit code ${job.exit_code ?? 137}). Raise its memory limit in the content’s execution settings.`;
      return `Failed${job.reason ? `: ${job.reason}` : ''}${job.exit_code !== null ? ` (exit code ${job.exit_code})` : ''}.${job.message ? ` ${job.message}` : ''}`;
    case 'cancelled':
      return job.message ? (/^cancel/i.test(job.message) ? job.message : `Cancelled: ${job.message}`) : 'Cancelled.';
    case 'lost':
      return `Lost: Offhost can no longer find it in the cluster.${job.message ? ` ${job.message}` : ''}`;
    default:
      return null;
  }
}
