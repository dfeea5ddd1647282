// The launcher's state machine as a table: each row is a status, an event, and what must follow.
import { describe, expect, it } from 'vitest';
import { initialStatus, next, type Effect, type JobStatus, type LauncherEvent, type PodObservation } from '../../shared/launcher-state';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:00:01.000Z';
const T2 = '2026-01-01T00:00:02.000Z';
const T3 = '2026-01-01T00:00:03.000Z';

function status(state: JobStatus['state'], extra: Partial<JobStatus> = {}): JobStatus {
  return { ...initialStatus(), state, ...(state !== 'queued' && state !== 'creating' ? { created_time: T0 } : {}), ...extra };
}
function pod(p: Partial<PodObservation>): PodObservation {
  return { phase: 'Pending', node_name: null, scheduled: null, ready: null, container: null, reason: null, message: null, deleting: false, ...p };
}
const types = (effects: Effect[]) => effects.map((e) => e.type);
const said = (effects: Effect[]) => effects.flatMap((e) => (e.type === 'say' ? [e.line] : []));

const unschedulable = '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.';

interface Row {
  name: string;
  from: JobStatus;
  event: LauncherEvent;
  expect: Partial<JobStatus>;
  effects?: Effect['type'][];
  says?: RegExp;
}

const rows: Row[] = [
  { name: 'queued + launch → creating, create', from: status('queued'), event: { type: 'launch', at: T0 }, expect: { state: 'creating' }, effects: ['create'] },
  { name: 'creating + created → pending, created time', from: status('creating'), event: { type: 'created', at: T1 }, expect: { state: 'pending', created_time: T1 }, effects: ['say'] },
  {
    name: 'creating + create-failed → failed with the reason',
    from: status('creating'),
    event: { type: 'create-failed', at: T1, reason: 'ServiceAccountMissing', message: 'the service account "x" does not exist' },
    expect: { state: 'failed', reason: 'ServiceAccountMissing', finished_time: T1 },
    effects: ['say', 'finished'],
    says: /Cannot start: the service account "x" does not exist/,
  },
  {
    name: 'pending + unschedulable pod → pending with the scheduler’s words',
    from: status('pending'),
    event: { type: 'pod', at: T1, pod: pod({ scheduled: { ok: false, reason: 'Unschedulable', message: unschedulable } }) },
    expect: { state: 'pending', reason: 'Unschedulable', message: unschedulable, scheduled_time: null },
    effects: ['say'],
    says: /^Waiting for a node: 0\/3 nodes are available: 3 Insufficient cpu/,
  },
  {
    name: 'the same unschedulable pod again → nothing said',
    from: status('pending', { reason: 'Unschedulable', message: unschedulable }),
    event: { type: 'pod', at: T2, pod: pod({ scheduled: { ok: false, reason: 'Unschedulable', message: unschedulable } }) },
    expect: { state: 'pending', reason: 'Unschedulable' },
    effects: [],
  },
  {
    name: 'pending + scheduled → scheduled time and node, the old reason cleared',
    from: status('pending', { reason: 'Unschedulable', message: unschedulable }),
    event: { type: 'pod', at: T2, pod: pod({ node_name: 'n1', scheduled: { ok: true, at: T1 }, container: { state: 'waiting', reason: 'ContainerCreating', message: '', image_pulled: false } }) },
    expect: { state: 'pending', scheduled_time: T1, node_name: 'n1', reason: 'ContainerCreating' },
    says: /Placed on node n1/,
  },
  {
    name: 'ErrImagePull → pending, said in words',
    from: status('pending', { scheduled_time: T1 }),
    event: { type: 'pod', at: T2, pod: pod({ scheduled: { ok: true, at: T1 }, container: { state: 'waiting', reason: 'ErrImagePull', message: 'failed to pull image "nope:1": not found', image_pulled: false } }) },
    expect: { state: 'pending', reason: 'ErrImagePull', message: 'failed to pull image "nope:1": not found' },
    says: /Cannot pull the image \(ErrImagePull\): failed to pull image "nope:1": not found/,
  },
  {
    name: 'ImagePullBackOff after ErrImagePull → said again (the reason changed)',
    from: status('pending', { scheduled_time: T1, reason: 'ErrImagePull', message: 'x' }),
    event: { type: 'pod', at: T2, pod: pod({ scheduled: { ok: true, at: T1 }, container: { state: 'waiting', reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"', image_pulled: false } }) },
    expect: { state: 'pending', reason: 'ImagePullBackOff' },
    says: /Cannot pull the image \(ImagePullBackOff\): Back-off pulling image/,
  },
  {
    name: 'CreateContainerConfigError → pending with the kubelet’s words',
    from: status('pending', { scheduled_time: T1 }),
    event: { type: 'pod', at: T2, pod: pod({ scheduled: { ok: true, at: T1 }, container: { state: 'waiting', reason: 'CreateContainerConfigError', message: 'secret "db" not found', image_pulled: true } }) },
    expect: { state: 'pending', reason: 'CreateContainerConfigError', message: 'secret "db" not found', image_pulled_time: T2 },
    says: /Cannot start the container \(CreateContainerConfigError\): secret "db" not found/,
  },
  {
    name: 'pending + running container → running, started and image-pulled times, reason cleared',
    from: status('pending', { scheduled_time: T1, reason: 'ContainerCreating' }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Running', node_name: 'n1', scheduled: { ok: true, at: T1 }, container: { state: 'running', started_at: T2 } }) },
    expect: { state: 'running', started_time: T2, image_pulled_time: T2, reason: null, message: null },
    effects: ['say', 'stream-output'],
  },
  {
    name: 'running + ready → ready time, ready effect',
    from: status('running', { scheduled_time: T1, started_time: T2 }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Running', scheduled: { ok: true, at: T1 }, ready: { at: T3 }, container: { state: 'running', started_at: T2 } }) },
    expect: { state: 'running', ready_time: T3 },
    effects: ['ready', 'say'],
  },
  {
    name: 'running + Succeeded → succeeded, exit 0, finished time from the container',
    from: status('running', { started_time: T1 }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Succeeded', container: { state: 'terminated', exit_code: 0, reason: 'Completed', message: '', started_at: T1, finished_at: T2 } }) },
    expect: { state: 'succeeded', exit_code: 0, finished_time: T2, reason: null },
    effects: ['say', 'keep-logs', 'finished'],
  },
  {
    name: 'pending straight to Succeeded (a fast job) → succeeded with its start time',
    from: status('pending'),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Succeeded', container: { state: 'terminated', exit_code: 0, reason: 'Completed', message: '', started_at: T1, finished_at: T2 } }) },
    expect: { state: 'succeeded', started_time: T1, finished_time: T2 },
  },
  {
    name: 'running + Failed exit 3 → failed with exit code and reason',
    from: status('running', { started_time: T1 }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Failed', container: { state: 'terminated', exit_code: 3, reason: 'Error', message: '', started_at: T1, finished_at: T2 } }) },
    expect: { state: 'failed', exit_code: 3, reason: 'Error', message: 'The container exited with code 3.', finished_time: T2 },
    says: /Failed: Error \(exit code 3\)/,
  },
  {
    name: 'OOMKilled → failed, 137, said as out of memory',
    from: status('running', { started_time: T1 }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Failed', container: { state: 'terminated', exit_code: 137, reason: 'OOMKilled', message: '', started_at: T1, finished_at: T2 } }) },
    expect: { state: 'failed', exit_code: 137, reason: 'OOMKilled' },
    says: /out of memory.*exit code 137.*memory_limit/,
  },
  {
    name: 'Evicted (pod-level reason) → failed, Evicted with the kubelet’s words',
    from: status('running', { started_time: T1 }),
    event: { type: 'pod', at: T3, pod: pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.', container: { state: 'terminated', exit_code: 137, reason: 'Error', message: '', started_at: T1, finished_at: T2 } }) },
    expect: { state: 'failed', reason: 'Evicted', message: 'The node was low on resource: memory.' },
    says: /evicted the pod: The node was low on resource: memory/,
  },
  {
    name: 'Job DeadlineExceeded → failed with the Job controller’s words',
    from: status('running', { started_time: T1 }),
    event: { type: 'job', at: T3, job: { outcome: 'failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', at: T2 } },
    expect: { state: 'failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', finished_time: T2 },
    says: /ran past its time limit/,
  },
  {
    name: 'Job Complete → succeeded',
    from: status('running'),
    event: { type: 'job', at: T3, job: { outcome: 'complete', reason: 'Completed', message: '', at: T2 } },
    expect: { state: 'succeeded', exit_code: 0, finished_time: T2 },
  },
  {
    name: 'pod gone unexpectedly → lost with a reason',
    from: status('running'),
    event: { type: 'pod-gone', at: T3 },
    expect: { state: 'lost', reason: 'PodDeleted', finished_time: T3 },
    says: /deleted before it finished/,
  },
  {
    name: 'vanished at reconciliation → lost with the message',
    from: status('pending'),
    event: { type: 'vanished', at: T3, message: 'The Job offhost-job-1 is gone from namespace x.' },
    expect: { state: 'lost', reason: 'Vanished', message: 'The Job offhost-job-1 is gone from namespace x.' },
  },
  {
    name: 'cancel a queued job → cancelled, nothing to delete',
    from: status('queued'),
    event: { type: 'cancel', at: T1, by: 'alice' },
    expect: { state: 'cancelled', reason: 'Cancelled', finished_time: T1 },
    effects: ['say', 'finished'],
  },
  {
    name: 'cancel a running job → cancelled, delete, keep logs',
    from: status('running'),
    event: { type: 'cancel', at: T1, by: 'alice' },
    expect: { state: 'cancelled', reason: 'Cancelled', message: 'Cancelled by alice.' },
    effects: ['delete', 'say', 'keep-logs', 'finished'],
  },
  {
    name: 'an end state is final: a late pod event changes nothing',
    from: status('cancelled', { finished_time: T1 }),
    event: { type: 'pod', at: T2, pod: pod({ phase: 'Failed', container: { state: 'terminated', exit_code: 143, reason: 'Error', message: '', started_at: T0, finished_at: T2 } }) },
    expect: { state: 'cancelled', exit_code: null, finished_time: T1 },
    effects: [],
  },
  {
    name: 'a Kubernetes time (whole seconds) before our created time → raised to it, times stay in order',
    from: status('pending', { created_time: '2026-01-01T00:00:01.400Z' }),
    event: { type: 'pod', at: T2, pod: pod({ phase: 'Running', scheduled: { ok: true, at: T1 }, container: { state: 'running', started_at: T1 } }) },
    expect: { scheduled_time: '2026-01-01T00:00:01.400Z', started_time: '2026-01-01T00:00:01.400Z', image_pulled_time: '2026-01-01T00:00:01.400Z' },
  },
  {
    name: 'FailedCreate while no pod exists → pending, reason and words',
    from: status('pending'),
    event: { type: 'job-warning', at: T1, reason: 'FailedCreate', message: 'pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0' },
    expect: { state: 'pending', reason: 'FailedCreate' },
    says: /^Kubernetes cannot create the pod \(FailedCreate\): pods "x" is forbidden: exceeded quota/,
  },
  {
    name: 'FailedCreate after the pod was placed → ignored',
    from: status('running', { scheduled_time: T1 }),
    event: { type: 'job-warning', at: T2, reason: 'FailedCreate', message: 'late' },
    expect: { state: 'running', reason: null },
    effects: [],
  },
  { name: 'launch twice → the second does nothing', from: status('creating'), event: { type: 'launch', at: T1 }, expect: { state: 'creating' }, effects: [] },
  {
    name: 'a pod seen before the create call returned → pending, created said once',
    from: status('creating'),
    event: { type: 'pod', at: T1, pod: pod({}) },
    expect: { state: 'pending', created_time: T1 },
    effects: ['say'],
    says: /^Created the Kubernetes Job/,
  },
  { name: '…and the late created event then changes nothing', from: status('pending'), event: { type: 'created', at: T2 }, expect: { state: 'pending', created_time: T0 }, effects: [] },
];

describe('next(state, event)', () => {
  it.each(rows)('$name', (row) => {
    const { status: out, effects } = next(row.from, row.event);
    expect(out).toMatchObject(row.expect);
    if (row.effects) expect(types(effects)).toEqual(row.effects);
    if (row.says) expect(said(effects).join('\n')).toMatch(row.says);
  });

  it('walks a whole run: queued → creating → pending → running → ready → succeeded, every time recorded', () => {
    let s = initialStatus();
    const events: LauncherEvent[] = [
      { type: 'launch', at: T0 },
      { type: 'created', at: T0 },
      { type: 'pod', at: T1, pod: pod({ node_name: 'n', scheduled: { ok: true, at: T1 }, container: { state: 'waiting', reason: 'ContainerCreating', message: '', image_pulled: false } }) },
      { type: 'pod', at: T2, pod: pod({ phase: 'Running', node_name: 'n', scheduled: { ok: true, at: T1 }, ready: { at: T2 }, container: { state: 'running', started_at: T2 } }) },
      { type: 'pod', at: T3, pod: pod({ phase: 'Succeeded', node_name: 'n', scheduled: { ok: true, at: T1 }, container: { state: 'terminated', exit_code: 0, reason: 'Completed', message: '', started_at: T2, finished_at: T3 } }) },
    ];
    const states: string[] = [];
    for (const e of events) {
      s = next(s, e).status;
      states.push(s.state);
    }
    expect(states).toEqual(['creating', 'pending', 'pending', 'running', 'succeeded']);
    expect(s).toMatchObject({ created_time: T0, scheduled_time: T1, image_pulled_time: T2, started_time: T2, ready_time: T2, finished_time: T3, exit_code: 0, node_name: 'n' });
  });
});
