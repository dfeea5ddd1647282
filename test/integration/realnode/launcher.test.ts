/**
 * The product's Launcher on the real node (kubelet + containerd): its Jobs reach real-0 only
 * through the admin's placement (OFFHOST_JOB_NODE_SELECTOR / OFFHOST_JOB_TOLERATIONS, parsed as
 * the server parses them: real-0 is tainted), in a namespace that enforces Pod Security
 * "restricted".
 *  - followLog streams a running container's lines as it prints them; once the pod is gone,
 *    logText still returns the log the launcher kept (and a long log is cut at the size cap).
 *  - an image that cannot be pulled (pods and the node have no registry) leaves the job pending
 *    with the kubelet's reason (ErrImagePull / ImagePullBackOff) and words, in the row and the
 *    deploy task; cancelling it removes its objects.
 * SQLite store (the realnode project has no PostgreSQL; the cluster tests cover both).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placementFromEnv } from '../../../main/kube/placement.js';
import { tasksRepo } from '../../../main/store/tasks-repo.js';
import type { JobRecord } from '../../../main/store/jobs-repo.js';
import { BACKENDS } from '../backends.js';
import { eventually, kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { startHarness, type Harness } from '../cluster/launcher-harness.js';
import { figure, imageMeta, realNodeSkip, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();
const sqlite = BACKENDS.find((b) => b.name === 'sqlite')!;
const LOG_CAP = 4096;
const TICKS = 12;
const TICK_S = 0.5;
/** Prints "tick <i> <epoch seconds>" every half second; one job prints far more than the cap. */
const COMMANDS: Record<string, string[]> = {
  ticker: ['python3', '-u', '-c', `import time\nfor i in range(${TICKS}):\n  print("tick", i, repr(time.time()), flush=True)\n  time.sleep(${TICK_S})`],
  chatty: ['python3', '-u', '-c', 'for i in range(2000):\n  print("line %05d" % i, "x" * 40)'],
};

describe.skipIf(!!skip)('the launcher on the real node', () => {
  const ns = useRealNodeNamespace('rn-launcher');
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  /** The test command per content item (known before its job row exists, so no race with the launcher). */
  const commands = new Map<number, string[]>();

  beforeAll(async () => {
    await kube().core.patchNamespace({ name: ns.name, body: [{ op: 'add', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'restricted' }] });
    // As an admin would configure it: real-0 only, tolerating its taint.
    const placement = placementFromEnv({
      OFFHOST_JOB_NODE_SELECTOR: JSON.stringify({ 'kubernetes.io/hostname': REAL_NODE_NAME }),
      OFFHOST_JOB_TOLERATIONS: JSON.stringify([{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }]),
    });
    h = await startHarness(sqlite, ns.name, { options: { placement, logCapBytes: LOG_CAP }, testContainerCommand: (job) => commands.get(job.content_id) });
  }, 120_000);
  afterAll(async () => {
    await h?.drop();
  });

  async function addJob(name: keyof typeof COMMANDS | 'none', image: string): Promise<JobRecord> {
    const c = await h!.content('python-api');
    if (name !== 'none') commands.set(c.contentId, COMMANDS[name]!);
    return h!.addJob(c, 'build', 'python-api', { image });
  }

  it('followLog streams the lines while the container runs; after the pod is gone logText returns the kept log', async () => {
    const python = imageMeta('python').ref;
    const job = await addJob('ticker', python);
    const chatty = await addJob('chatty', python);

    const running = await h!.waitFor(job.id, (j) => j.state === 'running' || j.state === 'succeeded' || j.state === 'failed', 120_000);
    expect(running.state, JSON.stringify(running)).toBe('running');
    expect(running.node_name).toBe(REAL_NODE_NAME);
    const arrivals: { tick: number; printed: number; received: number }[] = [];
    let text = '';
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        const now = Date.now() / 1000;
        text += chunk.toString();
        for (const m of chunk.toString().matchAll(/^tick (\d+) ([\d.]+)$/gm)) arrivals.push({ tick: Number(m[1]), printed: Number(m[2]), received: now });
        done();
      },
    });
    const abort = new AbortController();
    expect(await h!.launcher.followLog(running, out, abort.signal)).toBe(true);
    const done = await h!.waitFor(job.id, (j) => j.state === 'succeeded' || j.state === 'failed', 60_000);
    expect(done).toMatchObject({ state: 'succeeded', exit_code: 0 });
    await eventually(async () => arrivals.some((a) => a.tick === TICKS - 1), { timeoutMs: 10_000, what: 'the last tick in the followed log' });
    abort.abort();
    // Streamed as printed, not at the end: ticks reached us spread over the run, each soon after it was printed.
    const finishedAt = new Date(done.finished_time!).getTime() / 1000;
    const beforeEnd = arrivals.filter((a) => a.received < finishedAt - 1);
    expect(beforeEnd.length, JSON.stringify(arrivals)).toBeGreaterThanOrEqual(TICKS / 2);
    const lat = arrivals.map((a) => (a.received - a.printed) * 1000).sort((x, y) => x - y);
    expect(lat.at(-1)!, 'no line arrived much later than printed').toBeLessThan(3000);
    const lines = text.split('\n').filter((l) => l.startsWith('tick '));
    expect(lines.map((l) => Number(l.split(' ')[1]))).toEqual(Array.from({ length: TICKS }, (_, i) => i));

    // The pod goes (the Job is deleted, as its TTL would): the kept log is what logText returns.
    const { batch, core } = kube();
    await batch.deleteNamespacedJob({ name: `offhost-job-${job.id}`, namespace: ns.name, propagationPolicy: 'Foreground' });
    await eventually(async () => !(await core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` })).items.length, { timeoutMs: 60_000, what: 'the pod gone' });
    const kept = await h!.launcher.logText(done);
    expect(kept?.source).toBe('store');
    expect(kept?.truncated).toBe(false);
    expect(kept?.text.split('\n').filter((l) => l.startsWith('tick ')).map((l) => Number(l.split(' ')[1]))).toEqual(Array.from({ length: TICKS }, (_, i) => i));
    // The deploy task has the job's own lines too.
    const task = await tasksRepo.get(h!.store.db, done.task_id!);
    expect(task?.output.join('\n')).toMatch(/tick 0 /);

    // A log longer than the cap: kept cut at the cap, and said to be cut.
    const chattyDone = await h!.waitFor(chatty.id, (j) => j.state === 'succeeded' || j.state === 'failed', 120_000);
    expect(chattyDone.state).toBe('succeeded');
    await batch.deleteNamespacedJob({ name: `offhost-job-${chatty.id}`, namespace: ns.name, propagationPolicy: 'Foreground' });
    await eventually(async () => !(await core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${chatty.id}` })).items.length, { timeoutMs: 60_000, what: 'the chatty pod gone' });
    const cut = await h!.launcher.logText(chattyDone);
    expect(cut).toMatchObject({ source: 'store', truncated: true });
    expect(Buffer.byteLength(cut!.text)).toBeLessThanOrEqual(LOG_CAP);
    expect(cut!.text).toMatch(/line \d{5} x{40}\n/);

    figure('launcher followLog: line printed → received (ms)', `p50 ${lat[Math.floor(lat.length / 2)]!.toFixed(0)}, max ${lat.at(-1)!.toFixed(0)} over ${lat.length} lines; ${beforeEnd.length} of ${TICKS} arrived before the job ended`);
  });

  it('an image that cannot be pulled: pending with the kubelet’s reason and words, in the row and the task; cancel removes it', async () => {
    const image = 'registry.invalid/offhost/does-not-exist:1.0';
    const job = await addJob('none', image);
    const t0 = Date.now();
    const stuck = await h!.waitFor(job.id, (j) => j.reason === 'ErrImagePull' || j.reason === 'ImagePullBackOff' || !['queued', 'creating', 'pending'].includes(j.state), 150_000);
    const firstAfter = Date.now() - t0;
    expect(stuck.state, JSON.stringify(stuck)).toBe('pending');
    expect(stuck.node_name).toBe(REAL_NODE_NAME);
    expect(stuck.message).toContain(image);
    // The kubelet goes on to back off; the row follows with its words.
    const backoff = await h!.waitFor(job.id, (j) => j.reason === 'ImagePullBackOff' || j.state !== 'pending', 150_000);
    expect(backoff).toMatchObject({ state: 'pending', reason: 'ImagePullBackOff' });
    expect(backoff.message).toMatch(/Back-off pulling image "registry\.invalid\/offhost\/does-not-exist:1\.0"/);
    const task = await tasksRepo.get(h!.store.db, job.task_id!);
    const said = task!.output.join('\n');
    // ErrImagePull (the pull's own error) comes first; the watch may see it replaced at once.
    if (stuck.reason === 'ErrImagePull') expect(said).toMatch(/Cannot pull the image \(ErrImagePull\): .*registry\.invalid\/offhost\/does-not-exist:1\.0/);
    expect(said).toMatch(/Cannot pull the image \(ImagePullBackOff\): Back-off pulling image/);
    const events = await h!.launcher.kubeEvents(backoff);
    expect(events.some((e) => e.reason === 'Failed' && /Failed to pull image "registry\.invalid/.test(e.message)), JSON.stringify(events)).toBe(true);

    const cancelled = await h!.launcher.cancel(job.id, 'test');
    expect(cancelled.state).toBe('cancelled');
    const { batch, core } = kube();
    await eventually(async () => {
      const [jobs, pods] = await Promise.all([
        batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` }),
        core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` }),
      ]);
      return !jobs.items.length && !pods.items.length;
    }, { timeoutMs: 60_000, what: 'the Job and pod gone' });
    figure('launcher ErrImagePull on the real node', `reason in the row ${firstAfter} ms after queueing: ${stuck.reason}: ${stuck.message}`);
  });
});
