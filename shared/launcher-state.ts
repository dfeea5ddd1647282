// The launcher's heart (DESIGN.md §3): a pure next(state, event) → {state, effects}. The runner
// (main/launcher/) turns what it sees in the cluster into events, calls next(), writes the new
// state to the job row and applies the effects. Nothing here does I/O, so every transition is
// tested as a table (test/unit/launcher-state.test.ts).
import type { JobState } from './content';

/** What the launcher records of a job; the same fields as the job row. Times are ISO strings. */
export interface JobStatus {
  state: JobState;
  created_time: string | null;
  scheduled_time: string | null;
  image_pulled_time: string | null;
  started_time: string | null;
  ready_time: string | null;
  finished_time: string | null;
  exit_code: number | null;
  /** A short machine word (Unschedulable, ImagePullBackOff, OOMKilled, DeadlineExceeded, …). */
  reason: string | null;
  /** The words that go with it, as Kubernetes gave them when it did. */
  message: string | null;
  /** The node the pod runs on (Connect's `hostname`). */
  node_name: string | null;
}

/** The parts of a pod the launcher reads, taken from its status (see main/launcher/observe.ts). */
export interface PodObservation {
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  node_name: string | null;
  /** The PodScheduled condition: true, or false with the scheduler's reason and words. */
  scheduled: { ok: true; at: string | null } | { ok: false; reason: string; message: string } | null;
  ready: { at: string | null } | null;
  /** The main container's state. */
  container: ContainerObservation | null;
  /** Pod-level reason and message (Evicted, DeadlineExceeded, …). */
  reason: string | null;
  message: string | null;
  /** deletionTimestamp is set: the pod is going away. */
  deleting: boolean;
}

export type ContainerObservation =
  | { state: 'waiting'; reason: string; message: string; image_pulled: boolean }
  | { state: 'running'; started_at: string | null }
  | { state: 'terminated'; exit_code: number; reason: string; message: string; started_at: string | null; finished_at: string | null };

/** The Job's own verdict (its Complete, Failed or FailureTarget condition). */
export interface JobObservation {
  outcome: 'complete' | 'failed';
  reason: string;
  message: string;
  at: string | null;
}

export type LauncherEvent =
  /** The runner picked the job off the queue and is about to create its objects. */
  | { type: 'launch'; at: string }
  /** The Job exists (created now, or a retried create found it: 409). */
  | { type: 'created'; at: string }
  /** The objects could not be created, or the launch was refused (quota, service account). */
  | { type: 'create-failed'; at: string; reason: string; message: string }
  | { type: 'pod'; at: string; pod: PodObservation }
  /** The pod is gone from the cluster (a watch DELETED, or absent at reconciliation). */
  | { type: 'pod-gone'; at: string }
  | { type: 'job'; at: string; job: JobObservation }
  /** The Job controller cannot create the pod (a FailedCreate Event: a ResourceQuota, a webhook). */
  | { type: 'job-warning'; at: string; reason: string; message: string }
  /** The Job and its pod are gone (reconciliation found nothing for a live row). */
  | { type: 'vanished'; at: string; message: string }
  /** A person (or the API) asked to stop it. */
  | { type: 'cancel'; at: string; by: string };

export type Effect =
  /** Create the Job (and the Service for apps and APIs). */
  | { type: 'create' }
  /** Delete the Job with foreground propagation (its pod and Service go with it). */
  | { type: 'delete' }
  /** A line for the deploy task's output, in plain words. */
  | { type: 'say'; line: string }
  /** Copy the pod's log into the store while it still exists. */
  | { type: 'keep-logs' }
  /** The job reached an end state: release its slot in the queue, settle its deploy task. */
  | { type: 'finished' }
  /** An app or API is running and ready: its deploy task can finish successfully. */
  | { type: 'ready' }
  /** The container started: copy what it prints into the deploy task while it runs. */
  | { type: 'stream-output' };

export interface Transition {
  status: JobStatus;
  effects: Effect[];
}

export const TERMINAL_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled', 'lost'];
export const ACTIVE_STATES: readonly JobState[] = ['creating', 'pending', 'running'];
export function isTerminal(s: JobState): boolean {
  return TERMINAL_STATES.includes(s);
}

export function initialStatus(): JobStatus {
  return {
    state: 'queued',
    created_time: null,
    scheduled_time: null,
    image_pulled_time: null,
    started_time: null,
    ready_time: null,
    finished_time: null,
    exit_code: null,
    reason: null,
    message: null,
    node_name: null,
  };
}

const CREATED = 'Created the Kubernetes Job; waiting for a node.';

/** Waiting reasons that mean the image cannot be had. */
const IMAGE_PROBLEMS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'];
/** Waiting reasons that mean the pod spec cannot be honoured (a missing secret or config map, …). */
const CONFIG_PROBLEMS = ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'];

/** The next status and what to do about it. Events that change nothing give no effects. */
export function next(s: JobStatus, e: LauncherEvent): Transition {
  if (isTerminal(s.state)) return { status: s, effects: [] }; // an end state is final
  switch (e.type) {
    case 'launch':
      if (s.state !== 'queued') return same(s);
      return { status: { ...s, state: 'creating' }, effects: [{ type: 'create' }] };
    case 'created':
      if (s.state !== 'creating' && s.state !== 'queued') return same(s);
      return { status: { ...s, state: 'pending', created_time: s.created_time ?? e.at }, effects: [{ type: 'say', line: CREATED }] };
    case 'create-failed':
      return end(s, 'failed', e.at, { reason: e.reason, message: e.message }, [{ type: 'say', line: `Cannot start: ${e.message}` }]);
    case 'cancel':
      if (s.state === 'queued') return end(s, 'cancelled', e.at, { reason: 'Cancelled', message: `Cancelled by ${e.by} before it started.` }, [{ type: 'say', line: `Cancelled by ${e.by} before it started.` }]);
      return end(s, 'cancelled', e.at, { reason: 'Cancelled', message: `Cancelled by ${e.by}.` }, [{ type: 'delete' }, { type: 'say', line: `Cancelled by ${e.by}; stopping it.` }]);
    case 'vanished':
      if (s.state === 'queued') return same(s);
      return end(s, 'lost', e.at, { reason: 'Vanished', message: e.message }, [{ type: 'say', line: `Lost: ${e.message}` }]);
    case 'pod-gone':
      // Only an unexpected disappearance lands here: a pod that ended was already handled.
      if (s.state === 'queued' || s.state === 'creating') return same(s);
      return end(s, 'lost', e.at, { reason: 'PodDeleted', message: 'The pod was deleted before it finished (not by Offhost).' }, [
        { type: 'say', line: 'Lost: the pod was deleted before it finished (not by Offhost).' },
      ]);
    case 'job':
      if (s.state === 'queued') return same(s);
      if (e.job.outcome === 'complete') return end(s, 'succeeded', e.job.at ?? e.at, { exit_code: s.exit_code ?? 0 }, [{ type: 'say', line: 'Finished successfully.' }]);
      return end(s, 'failed', e.job.at ?? e.at, { reason: e.job.reason, message: e.job.message }, [{ type: 'say', line: `Failed: ${failWords(e.job.reason, e.job.message)}` }]);
    case 'job-warning': {
      // Only while no pod has been placed: once one runs, the pod says more.
      if (s.state !== 'pending' || s.scheduled_time !== null || (s.reason === e.reason && s.message === e.message)) return same(s);
      return { status: { ...s, reason: e.reason, message: e.message }, effects: [{ type: 'say', line: `Kubernetes cannot create the pod (${e.reason}): ${e.message}` }] };
    }
    case 'pod':
      if (s.state === 'queued') return same(s);
      return fromPod(s, e.pod, e.at);
  }
}

function same(s: JobStatus): Transition {
  return { status: s, effects: [] };
}

function end(s: JobStatus, state: JobState, at: string, fields: Partial<JobStatus>, effects: Effect[]): Transition {
  const keep: Effect[] = s.state === 'running' || s.state === 'pending' ? [{ type: 'keep-logs' }] : [];
  return { status: inOrder({ ...s, ...fields, state, finished_time: at }), effects: [...effects, ...keep, { type: 'finished' }] };
}

const PHASES = ['created_time', 'scheduled_time', 'image_pulled_time', 'started_time', 'ready_time', 'finished_time'] as const;
/**
 * Phase times never go backwards. They mix our clock (created) with Kubernetes' (scheduled,
 * started: whole seconds), so a pod scheduled 300 ms after we created it can read as "before";
 * such a time is raised to the phase before it.
 */
function inOrder(s: JobStatus): JobStatus {
  let prev: string | null = null;
  const out = { ...s };
  for (const f of PHASES) {
    const t = out[f];
    if (t === null) continue;
    if (prev !== null && t < prev) out[f] = prev;
    prev = out[f];
  }
  return out;
}

function fromPod(s: JobStatus, pod: PodObservation, at: string): Transition {
  const out: JobStatus = { ...s, created_time: s.created_time ?? at, node_name: pod.node_name ?? s.node_name };
  const effects: Effect[] = [];
  const say = (line: string) => effects.push({ type: 'say', line });
  // The watch can show the pod before the create call has returned: the Job exists.
  if (out.state === 'creating') {
    out.state = 'pending';
    say(CREATED);
  }
  // Once a reason is said, say it again only when it changes.
  const note = (reason: string, message: string, line: string) => {
    if (out.reason !== reason || out.message !== message) say(line);
    out.reason = reason;
    out.message = message;
  };

  if (pod.scheduled?.ok === false) note(pod.scheduled.reason, pod.scheduled.message, `Waiting for a node: ${pod.scheduled.message || pod.scheduled.reason}`);
  if (pod.scheduled?.ok && !out.scheduled_time) {
    out.scheduled_time = pod.scheduled.at ?? at;
    if (out.reason === 'Unschedulable') {
      out.reason = null;
      out.message = null;
    }
    say(pod.node_name ? `Placed on node ${pod.node_name}.` : 'Placed on a node.');
  }
  const c = pod.container;
  if (c?.state === 'waiting') {
    if (IMAGE_PROBLEMS.includes(c.reason)) note(c.reason, c.message, `Cannot pull the image (${c.reason}): ${c.message || 'no details from the node'}`);
    else if (CONFIG_PROBLEMS.includes(c.reason)) note(c.reason, c.message, `Cannot start the container (${c.reason}): ${c.message || 'no details from the node'}`);
    else if (c.reason === 'ContainerCreating' && out.state === 'pending' && out.reason !== 'ContainerCreating') {
      out.reason = 'ContainerCreating';
      out.message = null;
      say('Pulling the image and starting the container.');
    }
    if (c.image_pulled && !out.image_pulled_time) out.image_pulled_time = at;
  }
  if (c?.state === 'running' || c?.state === 'terminated') {
    const started = c.started_at ?? at;
    out.image_pulled_time ??= started;
    if (!out.started_time) {
      out.started_time = started;
      if (c.state === 'running') {
        say('Started.');
        effects.push({ type: 'stream-output' });
      }
    }
    if (out.state === 'pending') out.state = 'running';
    if (c.state === 'running' && out.reason !== null) {
      // Past the waiting: earlier reasons no longer describe it.
      out.reason = null;
      out.message = null;
    }
  }
  if (pod.ready && !out.ready_time && out.state === 'running') {
    out.ready_time = pod.ready.at ?? at;
    effects.push({ type: 'ready' });
    say('Ready.');
  }

  if (pod.phase === 'Succeeded' || (c?.state === 'terminated' && c.exit_code === 0 && pod.phase !== 'Failed')) {
    const t = c?.state === 'terminated' ? c : null;
    return end(out, 'succeeded', t?.finished_at ?? at, { exit_code: t?.exit_code ?? 0, reason: null, message: null }, [...effects, { type: 'say', line: 'Finished successfully.' }]);
  }
  if (pod.phase === 'Failed') {
    const t = c?.state === 'terminated' ? c : null;
    // The pod's own reason (Evicted, DeadlineExceeded) says more than the container's "Error".
    const reason = pod.reason ?? t?.reason ?? 'Failed';
    const message = pod.message || t?.message || (t ? `The container exited with code ${t.exit_code}.` : 'The pod failed.');
    return end(out, 'failed', t?.finished_at ?? at, { exit_code: t?.exit_code ?? null, reason, message }, [
      ...effects,
      { type: 'say', line: `Failed: ${failWords(reason, message, t?.exit_code)}` },
    ]);
  }
  return { status: inOrder(out), effects };
}

/** A failure in plain words. */
export function failWords(reason: string, message: string, exitCode?: number | null): string {
  const code = exitCode !== undefined && exitCode !== null ? ` (exit code ${exitCode})` : '';
  switch (reason) {
    case 'OOMKilled':
      return `out of memory: the container went over its memory limit and was killed${code}. Raise memory_limit or use less memory.`;
    case 'DeadlineExceeded':
      return `it ran past its time limit and was stopped. ${message}`.trim();
    case 'Evicted':
      return `the node evicted the pod: ${message}`;
    case 'BackoffLimitExceeded':
      return `the pod failed${message ? `: ${message}` : ''}.`;
    default:
      return `${reason}${code}${message ? `: ${message}` : ''}`;
  }
}

/** Whether a status differs from another in anything the row stores. */
export function statusChanged(a: JobStatus, b: JobStatus): boolean {
  return (Object.keys(a) as (keyof JobStatus)[]).some((k) => a[k] !== b[k]);
}
