/**
 * Leader election on a real coordination.k8s.io Lease: of two instances exactly one leads; when
 * the leader can no longer reach the apiserver (as if it died), the other takes over once the
 * lease has expired — not before, and within the lease duration plus one retry; a leader that
 * stops gives the lease up, so the other takes over at its next try.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskService } from '../../../main/content/tasks.js';
import { EventBus } from '../../../main/events.js';
import { Launcher } from '../../../main/launcher/launcher.js';
import { openStore } from '../../../main/store/db.js';
import { jobsRepo } from '../../../main/store/jobs-repo.js';
import { DEFAULT_QUOTAS } from '../../../shared/quota.js';
import { BACKENDS } from '../backends.js';
import { loadKubeConfig } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';
import { loadKube } from '../../../main/kube/config.js';
import { LeaderElector } from '../../../main/kube/lease.js';
import { silentLogger } from '../../../main/log.js';
import { isLocalCluster, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';

const ns = useTestNamespace('launcher-lease');
const DURATION_S = 3;
const RETRY_MS = 300;

function instance(name: string) {
  const log: string[] = [];
  let broken = false;
  const elector = new LeaderElector({
    identity: name,
    log: silentLogger,
    connect: () => {
      if (broken) throw new Error('connect ECONNREFUSED (test: this instance is cut off)');
      return loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name });
    },
    onLeading: () => log.push(`lead@${Date.now()}`),
    onStopped: async () => {
      log.push(`stop@${Date.now()}`);
    },
    options: { durationSeconds: DURATION_S, retryMs: RETRY_MS },
  });
  return { elector, log, cut: () => (broken = true), mend: () => (broken = false) };
}

async function until(ok: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now();
}

describe.skipIf(!isLocalCluster())('leader election', () => {
  it('one leader; a cut-off leader is replaced after the lease expires; a stopped one hands over at once', { timeout: 60_000 }, async () => {
    const a = instance('a');
    const b = instance('b');
    a.elector.start();
    await until(() => a.elector.isLeader, 5000, 'a leads');
    b.elector.start();
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([true, false]);

    const cutAt = Date.now();
    a.cut();
    const tookOver = await until(() => b.elector.isLeader, (DURATION_S + 3) * 1000, 'b takes over');
    const waited = tookOver - cutAt;
    expect(waited).toBeGreaterThanOrEqual(DURATION_S * 1000 - 2 * RETRY_MS);
    expect(waited).toBeLessThanOrEqual(DURATION_S * 1000 + 3 * RETRY_MS);
    // a notices it can no longer renew and stops its work.
    await until(() => !a.elector.isLeader, (DURATION_S + 2) * 1000, 'a stops leading');
    expect(a.log.filter((l) => l.startsWith('stop@'))).toHaveLength(1);

    a.mend();
    await new Promise((r) => setTimeout(r, 3 * RETRY_MS));
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([false, true]);
    const stopAt = Date.now();
    await b.elector.stop();
    expect(b.log.at(-1)).toMatch(/^stop@/);
    await until(() => a.elector.isLeader, 5 * RETRY_MS, 'a takes over after b gave up the lease');
    expect(Date.now() - stopAt).toBeLessThan(DURATION_S * 1000);
    await a.elector.stop();
  });
});

const pg = BACKENDS.find((b) => b.name === 'postgres')!;

describe.skipIf(!isLocalCluster())('two instances on one PostgreSQL', () => {
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
    await h?.drop();
  });

  it('50 jobs: each launched exactly once; the leader dies mid-way and the other finishes', { timeout: 120_000 }, async () => {
    h = await startHarness(pg, ns.name, { start: false });
    const c = await h.content('python-api');
    const conn = () => loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name });
    const make = async (name: string) => {
      const store = await openStore(h!.dbConfig, silentLogger);
      const events = new EventBus();
      let dead = false;
      const connect = () => {
        if (dead) throw new Error('connect ECONNREFUSED (test: this instance died)');
        return conn();
      };
      const launcher = new Launcher({
        store,
        events,
        tasks: new TaskService(store.db, () => new Date().toISOString()),
        log: silentLogger,
        connect,
        quotas: async () => ({ ...DEFAULT_QUOTAS, max_concurrent_jobs: 10 }),
        testPodAnnotations: () => ({ 'kwok.offhost.dev/run-time': '1s' }),
      });
      const elector = new LeaderElector({ identity: name, log: silentLogger, connect, onLeading: () => launcher.start(), onStopped: () => launcher.stop(), options: { name: 'offhost-launcher-2', durationSeconds: DURATION_S, retryMs: RETRY_MS } });
      closers.push(async () => {
        await elector.stop();
        await launcher.stop();
        await store.close();
      });
      return { launcher, elector, die: async () => ((dead = true), await launcher.stop()) };
    };
    const added = new Map<string, number>();
    const abort = await new k8s.Watch(loadKubeConfig()).watch(`/apis/batch/v1/namespaces/${ns.name}/jobs`, { labelSelector: `offhost.dev/content-guid=${c.guid}` }, (type: string, o: k8s.V1Job) => {
      if (type === 'ADDED') added.set(o.metadata!.name!, (added.get(o.metadata!.name!) ?? 0) + 1);
    }, () => {});
    closers.push(async () => abort.abort());

    const a = await make('a');
    a.elector.start();
    await until(() => a.elector.isLeader, 5000, 'a leads');
    const b = await make('b');
    b.elector.start();
    const ids: number[] = [];
    for (let i = 0; i < 50; i++) ids.push((await h.addJob(c, 'build', 'python-api')).id);
    // The queue is in the database: tell a's launcher (no events cross instances yet).
    a.launcher.kick();
    await until(() => added.size >= 15, 30_000, '15 Jobs created by a');
    await a.die();
    await until(() => b.elector.isLeader, (DURATION_S + 3) * 1000, 'b takes over');
    b.launcher.kick();
    const deadline = Date.now() + 60_000;
    let rows = await jobsRepo.getMany(h.store.db, ids);
    while (rows.some((r) => r.state !== 'succeeded') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      rows = await jobsRepo.getMany(h.store.db, ids);
    }
    expect(rows.filter((r) => r.state !== 'succeeded').map((r) => [r.id, r.state, r.reason])).toEqual([]);
    expect(added.size).toBe(50);
    expect([...added.values()].every((n) => n === 1)).toBe(true);
  });
});
