/**
 * The queue is read a page at a time (LauncherOptions.queuePage) and paged through until the free
 * slots are used: jobs behind a page of rows that must wait (runs waiting for their build) start
 * at once, not at the next kick — the 1,000-job bench found the second page waiting for one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../backends.js';
import { isLocalCluster, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

const ns = useTestNamespace('launcher-queue');
const sqlite = BACKENDS.find((b) => b.name === 'sqlite')!;

describe.skipIf(!isLocalCluster())('the queue, paged', () => {
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  afterAll(async () => {
    await h?.drop();
  });

  it('launches every job it has room for, past pages of waiting ones', async () => {
    h = await startHarness(sqlite, ns.name, { start: false, options: { queuePage: 2 }, quotas: { max_concurrent_jobs: 10 } });
    const c = await h.content('shiny');
    const build = await h.addJob(c, 'build', 'shiny', { annotations: { 'kwok.offhost.dev/run-time': '8s' } });
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await h.addJob(c, 'run', 'shiny', { after: build.id, annotations: { 'kwok.offhost.dev/run-time': '1s' } }));
    const other = await h.content('python-api');
    const builds = [];
    for (let i = 0; i < 4; i++) builds.push(await h.addJob(other, 'build', 'python-api', { annotations: { 'kwok.offhost.dev/run-time': '1s' } }));
    // Pages of 2: [build, run], [run, run], [b, b], [b, b].
    h.launcher.start();
    const done = await Promise.all(builds.map((b) => h!.waitFor(b.id, (j) => j.state === 'succeeded', 60_000)));
    const first = await h.waitFor(build.id, (j) => j.state === 'succeeded', 60_000);
    // All four were created while the 8 s build still ran: none waited for a kick it finishing gives.
    for (const b of done) expect(b.created_time! < first.finished_time!, `${b.key} created ${b.created_time}, the build finished ${first.finished_time}`).toBe(true);
    // The runs waited for their build, then started (the newest replaces the older ones once ready).
    for (const r of runs) expect((await h.waitFor(r.id, (j) => j.created_time !== null || j.state === 'cancelled', 60_000)).state).not.toBe('queued');
  });
});
