// What the state machine needs to know of a pod or a Job, read from their Kubernetes status.
// Pure (no I/O); the runner feeds it the objects its watches deliver.
import type * as k8s from '@kubernetes/client-node';
import type { ContainerObservation, JobObservation, PodObservation } from '../../shared/launcher-state';
import { MAIN_CONTAINER } from '../kube/manifests';

function iso(t: Date | string | undefined | null): string | null {
  if (!t) return null;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function observePod(pod: k8s.V1Pod): PodObservation {
  const status = pod.status ?? {};
  const cond = (type: string) => status.conditions?.find((c) => c.type === type);
  const sched = cond('PodScheduled');
  const ready = cond('Ready');
  const cs = status.containerStatuses?.find((c) => c.name === MAIN_CONTAINER) ?? status.containerStatuses?.[0];
  let container: ContainerObservation | null = null;
  if (cs?.state?.terminated) {
    const t = cs.state.terminated;
    container = { state: 'terminated', exit_code: t.exitCode, reason: t.reason ?? '', message: t.message ?? '', started_at: iso(t.startedAt), finished_at: iso(t.finishedAt) };
  } else if (cs?.state?.running) container = { state: 'running', started_at: iso(cs.state.running.startedAt) };
  else if (cs?.state?.waiting)
    container = { state: 'waiting', reason: cs.state.waiting.reason ?? '', message: cs.state.waiting.message ?? '', image_pulled: Boolean(cs.imageID) };
  const phase = (['Pending', 'Running', 'Succeeded', 'Failed'] as const).find((p) => p === status.phase) ?? 'Unknown';
  return {
    phase,
    node_name: pod.spec?.nodeName ?? null,
    scheduled: !sched
      ? null
      : sched.status === 'True'
        ? { ok: true, at: iso(sched.lastTransitionTime) }
        : { ok: false, reason: sched.reason ?? 'Unschedulable', message: sched.message ?? '' },
    ready: ready?.status === 'True' ? { at: iso(ready.lastTransitionTime) } : null,
    container,
    reason: status.reason ?? null,
    message: status.message ?? null,
    deleting: Boolean(pod.metadata?.deletionTimestamp),
  };
}

/**
 * The Job's verdict, if it has one. FailureTarget counts as failed: the Job controller sets it
 * (DeadlineExceeded, BackoffLimitExceeded) before it deletes the pod, so it arrives first.
 */
export function observeJob(job: k8s.V1Job): JobObservation | null {
  for (const c of job.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete' || c.type === 'SuccessCriteriaMet') return { outcome: 'complete', reason: c.reason ?? 'Completed', message: c.message ?? '', at: iso(c.lastTransitionTime) };
    if (c.type === 'Failed' || c.type === 'FailureTarget') return { outcome: 'failed', reason: c.reason ?? 'Failed', message: c.message ?? '', at: iso(c.lastTransitionTime) };
  }
  return null;
}
