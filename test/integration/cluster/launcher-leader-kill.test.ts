/**
 * Leader death as a killed process (issue 9, several instances): two instances on one PostgreSQL
 * database. The leader — lease, launcher and store in a child process of its own
 * (launcher-leader-child.ts) — is killed with SIGKILL while it launches 50 queued jobs; the other
 * instance, in this process, takes the Lease once it has expired (not before: the time is
 * measured from the kill and from the dead leader's last renewal) and within the lease duration
 * plus one retry, and finishes the work. Every job ends succeeded, each Job and each pod is
 * created exactly once (a watch counts ADDED per name), and nothing is left without a row.
 */
import { spawn } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskService } from '../../../main/content/tasks.js';
import { EventBus } from '../../../main/events.js';
import { loadKube } from '../../../main/kube/config.js';
import { LeaderElector } from '../../../main/kube/lease.js';
import { Launcher } from '../../../main/launcher/launcher.js';
import { silentLogger } from '../../../main/log.js';
import { openStore } from '../../../main/store/db.js';
import { jobsRepo } from '../../../main/store/jobs-repo.js';
import { DEFAULT_QUOTAS } from '../../../shared/quota.js';
import { BACKENDS } from '../backends.js';
import { eventually, isLocalCluster, kube, kubeconfigPath, loadKubeConfig, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

const ns = useTestNamespace('launcher-leader-kill');
const pg = BACKENDS.find((b) => b.name === 'postgres')!;
const LEASE = 'offhost-launcher-kill';
const DURATION_S = 5;
const RETRY_MS = 500;
const N = 50;

describe.skipIf(!isLocalCluster())('the leader is killed (SIGKILL): another instance on the same PostgreSQL takes over', () => {
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await h?.drop();
  });

  it(`50 jobs, each launched once; takeover within the lease duration (${DURATION_S} s) plus one retry`, { timeout: 180_000 }, async () => {
    h = await startHarness(pg, ns.name, { start: false });
    const c = await h.content('python-api');
    const ids: number[] = [];
    for (let i = 0; i < N; i++) ids.push((await h.addJob(c, 'build', 'python-api')).id);
    const mine = `offhost.dev/content-guid=${c.guid}`;

    const jobsAdded = new Map<string, number>();
    const podsAdded = new Map<string, number>();
    const watch = new k8s.Watch(loadKubeConfig());
    for (const abort of await Promise.all([
      watch.watch(`/apis/batch/v1/namespaces/${ns.name}/jobs`, { labelSelector: mine }, (type: string, o: k8s.V1Job) => {
        if (type === 'ADDED') jobsAdded.set(o.metadata!.name!, (jobsAdded.get(o.metadata!.name!) ?? 0) + 1);
      }, () => {}),
      watch.watch(`/api/v1/namespaces/${ns.name}/pods`, { labelSelector: mine }, (type: string, o: k8s.V1Pod) => {
        const id = o.metadata!.labels!['offhost.dev/job-id']!;
        if (type === 'ADDED') podsAdded.set(id, (podsAdded.get(id) ?? 0) + 1);
      }, () => {}),
    ]))
      closers.push(async () => abort.abort());

    // Instance a: the leader, in a child process.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/cluster/launcher-leader-child.ts', JSON.stringify(h.dbConfig), kubeconfigPath(), ns.name, LEASE, String(DURATION_S), String(RETRY_MS), 'a'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    closers.push(async () => void child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    let childEnded = false;
    void exited.then(() => (childEnded = true));
    await eventually(async () => {
      if (childEnded) throw new Error(`the leader child ended: ${stderr}`);
      return /^leading \d+$/m.test(stdout);
    }, { timeoutMs: 60_000, intervalMs: 20, what: 'the child to lead' });

    // Instance b: here, same database, same lease.
    const store = await openStore(h.dbConfig, silentLogger);
    const events = new EventBus();
    const connect = () => loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name });
    const launcher = new Launcher({
      store,
      events,
      tasks: new TaskService(store.db, () => new Date().toISOString()),
      log: silentLogger,
      connect,
      quotas: async () => ({ ...DEFAULT_QUOTAS, max_concurrent_jobs: 10 }),
      testPodAnnotations: () => ({ 'kwok.offhost.dev/run-time': '1s' }),
    });
    let ledAt = 0;
    const b = new LeaderElector({
      identity: 'b',
      log: silentLogger,
      connect,
      onLeading: () => {
        ledAt = Date.now();
        launcher.start();
      },
      onStopped: () => launcher.stop(),
      options: { name: LEASE, durationSeconds: DURATION_S, retryMs: RETRY_MS },
    });
    closers.push(async () => {
      await b.stop();
      await launcher.stop();
      await store.close();
    });
    b.start();
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    expect(b.isLeader, 'b waits while a holds the lease').toBe(false);

    // Kill a in the middle of its work.
    await eventually(async () => jobsAdded.size >= 15, { timeoutMs: 60_000, intervalMs: 5, what: '15 Jobs created by the leader' });
    child.kill('SIGKILL');
    const killedAt = Date.now();
    expect(await exited).toBe('SIGKILL');
    const atKill = await jobsRepo.getMany(h.store.db, ids);
    const coordination = loadKubeConfig().makeApiClient(k8s.CoordinationV1Api);
    const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: ns.name });
    expect(lease.spec?.holderIdentity).toBe('a');
    const lastRenew = new Date(lease.spec!.renewTime!).getTime();
    const createdByA = jobsAdded.size;
    expect(atKill.filter((j) => j.state === 'queued' || j.state === 'creating').length, 'work left for b').toBeGreaterThan(0);

    await eventually(async () => b.isLeader && ledAt > 0, { timeoutMs: (DURATION_S + 5) * 1000, intervalMs: 10, what: 'b to take over' });
    const takeover = ledAt - killedAt;
    // Not before the dead leader's lease expired, and within its duration plus one retry of b.
    expect(ledAt).toBeGreaterThanOrEqual(lastRenew + DURATION_S * 1000);
    expect(takeover).toBeLessThanOrEqual(DURATION_S * 1000 + RETRY_MS + 1000);

    const deadline = Date.now() + 90_000;
    let rows = await jobsRepo.getMany(h.store.db, ids);
    while (rows.some((r) => r.state !== 'succeeded') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      rows = await jobsRepo.getMany(h.store.db, ids);
    }
    expect(rows.filter((r) => r.state !== 'succeeded').map((r) => [r.id, r.state, r.reason])).toEqual([]);
    expect(jobsAdded.size).toBe(N);
    expect([...jobsAdded.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(podsAdded.size).toBe(N);
    expect([...podsAdded.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const jobs = await kube().batch.listNamespacedJob({ namespace: ns.name, labelSelector: mine });
    expect(jobs.items.map((j) => Number(j.metadata!.labels!['offhost.dev/job-id'])).sort((x, y) => x - y)).toEqual(ids);

    process.stdout.write(
      `[leader kill] a created ${createdByA} Jobs before SIGKILL; rows then: ${JSON.stringify(countStates(atKill.map((r) => r.state)))}; ` +
        `b led ${takeover} ms after the kill (${ledAt - lastRenew} ms after a's last renewal; lease ${DURATION_S} s, retry ${RETRY_MS} ms)\n`,
    );
  });
});

function countStates(states: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of states) out[s] = (out[s] ?? 0) + 1;
  return out;
}
