/**
 * Restart safety: a launcher in a child process is killed with SIGKILL while it is creating a
 * batch of Jobs; a new launcher on the same database finishes the work. Every row ends
 * succeeded (none lost), each Job was created exactly once (the watch sees one ADDED per name,
 * and no second pod), and no Job of ours is left without a row.
 */
import { spawn } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../backends.js';
import { isLocalCluster, kube, kubeconfigPath, loadKubeConfig, useTestNamespace } from '../../cluster/kube.js';
import { jobsRepo } from '../../../main/store/jobs-repo.js';
import { startHarness, type Harness } from './launcher-harness.js';

// One namespace per store backend: job ids (and so object names) start at 1 in each database.
const namespaces = { sqlite: useTestNamespace('launcher-restart-sqlite'), postgres: useTestNamespace('launcher-restart-pg') };
const N = 20;

describe.skipIf(!isLocalCluster()).each(BACKENDS)('restart safety on $name', (backend) => {
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  const ns = namespaces[backend.name];
  afterAll(async () => {
    await h?.drop();
    await kube().batch.deleteCollectionNamespacedJob({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost', propagationPolicy: 'Foreground' });
  });

  it('SIGKILL mid-launch, start again: no duplicate, no orphan, no lost row', { timeout: 300_000 }, async () => {
    h = await startHarness(backend, ns.name, { start: false });
    const c = await h.content('python-api');
    const ids: number[] = [];
    for (let i = 0; i < N; i++) ids.push((await h.addJob(c, 'build', 'python-api', { annotations: { 'kwok.offhost.dev/run-time': '2s' } })).id);
    const mine = `offhost.dev/content-guid=${c.guid}`;

    // Count every Job creation seen by a watch of our own (a recreate would show twice).
    const added = new Map<string, number>();
    const podsAdded = new Map<string, number>();
    const watch = new k8s.Watch(loadKubeConfig());
    const aborts = await Promise.all([
      watch.watch(`/apis/batch/v1/namespaces/${ns.name}/jobs`, { labelSelector: mine }, (type: string, o: k8s.V1Job) => {
        if (type === 'ADDED') added.set(o.metadata!.name!, (added.get(o.metadata!.name!) ?? 0) + 1);
      }, () => {}),
      watch.watch(`/api/v1/namespaces/${ns.name}/pods`, { labelSelector: mine }, (type: string, o: k8s.V1Pod) => {
        const id = o.metadata!.labels!['offhost.dev/job-id']!;
        if (type === 'ADDED') podsAdded.set(id, (podsAdded.get(id) ?? 0) + 1);
      }, () => {}),
    ]);

    const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/cluster/launcher-child.ts', JSON.stringify(h.dbConfig), kubeconfigPath(), ns.name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    // Kill it as soon as a few Jobs exist: the rest are still being created or queued.
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (added.size >= 3) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      void exited.then(() => {
        clearInterval(t);
        reject(new Error(`the child ended before it was killed: ${stderr}`));
      });
    });
    expect(await exited).toBe('SIGKILL');
    const atKill = await jobsRepo.getMany(h.store.db, ids);
    const notStarted = atKill.filter((j) => j.state === 'queued' || j.state === 'creating').length;
    expect(notStarted, 'some jobs were still to launch when the child died').toBeGreaterThan(0);

    h.launcher.start();
    for (const id of ids) expect((await h.waitFor(id, (j) => ['succeeded', 'failed', 'cancelled', 'lost'].includes(j.state), 60_000)).state, `job ${id}`).toBe('succeeded');
    aborts.forEach((a) => a.abort());

    const jobs = await kube().batch.listNamespacedJob({ namespace: ns.name, labelSelector: mine });
    expect(jobs.items.map((j) => Number(j.metadata!.labels!['offhost.dev/job-id'])).sort((a, b) => a - b)).toEqual(ids);
    expect([...added.values()].every((n) => n === 1), JSON.stringify([...added])).toBe(true);
    expect(added.size).toBe(N);
    expect([...podsAdded.values()].every((n) => n === 1), JSON.stringify([...podsAdded])).toBe(true);
  });
});
