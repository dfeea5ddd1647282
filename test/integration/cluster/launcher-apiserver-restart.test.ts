/**
 * The apiserver restarts while the launcher watches (issue 9, restart safety): the real
 * kube-apiserver process of the test cluster is killed with SIGKILL (etcd, the controllers and
 * KWOK stay up, as when an apiserver pod is restarted) while jobs run and others wait in the
 * queue; during the outage one running job is cancelled and more jobs are queued; then the very
 * same apiserver command starts again.
 *
 * The launcher backs off (the waits it logs grow), never crashes, lists again once the apiserver
 * answers, and every row ends where it must: the running ones succeeded or failed as their pods
 * did, the cancelled one cancelled with its Job deleted after the restart, the queued ones (old
 * and new) launched and succeeded. No Job is created twice: the Jobs that existed before keep
 * their uid, and each job id has exactly one Job and one pod (counted by label).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../main/log.js';
import { jobsRepo, type JobRecord } from '../../../main/store/jobs-repo.js';
import { BACKENDS } from '../backends.js';
import { loadSettings, statePaths } from '../../cluster/config.js';
import { down, portInUse, readState, up } from '../../cluster/controlplane.js';
import { eventually, isLocalCluster, kube, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

const ns = useTestNamespace('launcher-apiserver');
const pg = BACKENDS.find((b) => b.name === 'postgres')!;
const OUTAGE_MS = 6000;

/** The running kube-apiserver of the test cluster: its pid and the exact command it was started with. */
function apiserver(): { pid: number; argv: string[]; stateDir: string; port: number } {
  const settings = loadSettings();
  const state = readState(settings.stateDir);
  if (!state) throw new Error(`no cluster state in ${settings.stateDir}`);
  const pidFile = path.join(statePaths(settings.stateDir).pids, 'kube-apiserver.pid');
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  if (!argv[0]?.endsWith('kube-apiserver')) throw new Error(`pid ${pid} is not the kube-apiserver (${argv[0]})`);
  return { pid, argv, stateDir: settings.stateDir, port: state.ports.apiserver };
}

async function killApiserver(a: { pid: number; port: number }): Promise<void> {
  try {
    process.kill(-a.pid, 'SIGKILL'); // its process group: cluster:up starts it detached
  } catch {
    process.kill(a.pid, 'SIGKILL');
  }
  await eventually(async () => !(await portInUse(a.port)), { timeoutMs: 10_000, intervalMs: 20, what: 'the apiserver port to close' });
}

/** Start the same command again, as cluster:up did (detached, logging to its log), and record its pid. */
function startApiserver(a: { argv: string[]; stateDir: string }): number {
  const paths = statePaths(a.stateDir);
  const out = fs.openSync(path.join(paths.logs, 'kube-apiserver.log'), 'a');
  fs.writeSync(out, `# ${new Date().toISOString()} restarted by launcher-apiserver-restart.test.ts\n`);
  const child = spawn(a.argv[0]!, a.argv.slice(1), { detached: true, stdio: ['ignore', out, out], cwd: a.stateDir, env: { ...process.env, GOMAXPROCS: process.env.GOMAXPROCS ?? '2' } });
  fs.closeSync(out);
  child.unref();
  const pid = child.pid!;
  fs.writeFileSync(path.join(paths.pids, 'kube-apiserver.pid'), `${pid}\n${a.argv[0]}\n`);
  const state = JSON.parse(fs.readFileSync(paths.stateFile, 'utf8')) as { pids: Record<string, number> };
  state.pids['kube-apiserver'] = pid;
  fs.writeFileSync(paths.stateFile, JSON.stringify(state, null, 2));
  return pid;
}

const TERMINAL = ['succeeded', 'failed', 'cancelled', 'lost'];

describe.skipIf(!isLocalCluster())('the apiserver restarts during the watch (PostgreSQL store)', () => {
  let h: (Harness & { drop(): Promise<void> }) | undefined;
  let restore: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await restore?.(); // never leave the cluster without its apiserver
    await h?.drop();
    // KWOK keeps counting, in its emulated node usage, pods that were deleted while the apiserver
    // was away (a real kubelet resyncs; KWOK's usage cache does not), which skews the node
    // metrics later files check. Give them a fresh cluster, as restart.test.ts does.
    if (restore) {
      const settings = { ...loadSettings(), skipBuild: true };
      await down(settings);
      await up(settings);
    }
  }, 120_000);

  it('backs off, lists again, creates nothing twice; every row ends where it must', { timeout: 240_000 }, async () => {
    const warnings: { msg: string; retryInMs?: number; at: number }[] = [];
    const log = createLogger('warn', {
      write: (line: string) => {
        const o = JSON.parse(line) as { msg: string; retryInMs?: number };
        warnings.push({ msg: o.msg, retryInMs: o.retryInMs, at: Date.now() });
      },
    });
    h = await startHarness(pg, ns.name, { log, quotas: { max_concurrent_jobs: 6 }, options: { backoffMs: { initial: 200, max: 2000 } } });
    const c = await h.content('python-api');
    const app = await h.content('python-fastapi');
    const long = { 'kwok.offhost.dev/run-time': '15s' };
    const running: JobRecord[] = [];
    for (let i = 0; i < 4; i++) running.push(await h.addJob(c, 'build', 'python-api', { annotations: long }));
    const failing = await h.addJob(c, 'build', 'python-api', { annotations: { ...long, 'kwok.offhost.dev/outcome': 'fail', 'kwok.offhost.dev/exit-code': '3' } });
    const served = await h.addJob(app, 'run', 'python-fastapi', { annotations: { 'kwok.offhost.dev/run-time': '3600s' } });
    // Beyond max_concurrent_jobs: these wait in the queue through the outage.
    const waiting: JobRecord[] = [];
    for (let i = 0; i < 4; i++) waiting.push(await h.addJob(c, 'build', 'python-api', { annotations: { 'kwok.offhost.dev/run-time': '1s' } }));
    for (const j of [...running, failing, served]) await h.waitFor(j.id, (r) => r.state === 'running', 60_000);
    expect((await jobsRepo.getMany(h.store.db, waiting.map((j) => j.id))).map((r) => r.state)).toEqual(['queued', 'queued', 'queued', 'queued']);

    const { batch, core } = kube();
    const before = await batch.listNamespacedJob({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost' });
    const uids = new Map(before.items.map((j) => [j.metadata!.name!, j.metadata!.uid!]));
    expect(uids.size).toBe(6);
    const relistsBefore = h.launcher.status.relists;

    // --- the outage ----------------------------------------------------------------------------
    const a = apiserver();
    let restarted = false;
    restore = async () => {
      if (restarted) return;
      restarted = true;
      startApiserver(a);
      await eventually(async () => (await kube().core.listNamespace({ limit: 1 })) && true, { timeoutMs: 120_000, intervalMs: 100, what: 'the restarted apiserver to answer' });
    };
    const killedAt = Date.now();
    await killApiserver(a);
    await eventually(async () => h!.launcher.status.state === 'retrying', { timeoutMs: 10_000, intervalMs: 10, what: 'the launcher to notice' });
    const noticedAt = Date.now();
    // While the apiserver is away: cancel a running app, and queue more work.
    await h.launcher.cancel(served.id, 'test (during the outage)');
    const added: JobRecord[] = [];
    for (let i = 0; i < 3; i++) added.push(await h.addJob(c, 'build', 'python-api', { annotations: { 'kwok.offhost.dev/run-time': '1s' } }));
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - killedAt))));
    expect(h.launcher.status.state).toBe('retrying');
    const restartAt = Date.now();
    await restore();
    const answeringAt = Date.now();
    await eventually(async () => h!.launcher.status.state === 'watching' && h!.launcher.status.relists > relistsBefore, { timeoutMs: 30_000, intervalMs: 10, what: 'the launcher to watch again' });
    const resumedAt = Date.now();

    // --- after ---------------------------------------------------------------------------------
    const all = [...running, failing, served, ...waiting, ...added];
    const rows = new Map<number, JobRecord>();
    for (const j of all) rows.set(j.id, await h.waitFor(j.id, (r) => TERMINAL.includes(r.state), 120_000));
    for (const j of [...running, ...waiting, ...added]) expect(rows.get(j.id)!.state, `job ${j.id}`).toBe('succeeded');
    expect(rows.get(failing.id)).toMatchObject({ state: 'failed', exit_code: 3, reason: 'Error' });
    expect(rows.get(served.id)).toMatchObject({ state: 'cancelled', reason: 'Cancelled' });
    expect(rows.get(served.id)!.message).toMatch(/test \(during the outage\)/);

    // The cancelled app's Job could not be deleted during the outage: the relist's reconciliation does it.
    const servedName = `offhost-job-${served.id}`;
    await eventually(async () => !(await batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${served.id}` })).items.length, { timeoutMs: 60_000, what: `${servedName} deleted` });

    // Nothing created twice: old Jobs keep their uid; one Job and one pod per job id.
    const after = await batch.listNamespacedJob({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost' });
    for (const j of after.items) if (uids.has(j.metadata!.name!)) expect(j.metadata!.uid, j.metadata!.name).toBe(uids.get(j.metadata!.name!));
    const jobIds = after.items.map((j) => Number(j.metadata!.labels!['offhost.dev/job-id'])).sort((x, y) => x - y);
    expect(jobIds).toEqual(all.filter((j) => j.id !== served.id).map((j) => j.id).sort((x, y) => x - y));
    const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost' });
    const podsPerJob = new Map<number, number>();
    for (const p of pods.items) {
      const id = Number(p.metadata!.labels!['offhost.dev/job-id']);
      podsPerJob.set(id, (podsPerJob.get(id) ?? 0) + 1);
    }
    expect([...podsPerJob.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...podsPerJob.keys()].sort((x, y) => x - y)).toEqual(jobIds);

    // Backoff: the waits it announced grow (200, 400, 800 … ms) and stop at the maximum.
    const retries = warnings.filter((w) => w.msg.startsWith('launcher: cannot watch the cluster') && w.at >= killedAt && w.at <= resumedAt).map((w) => w.retryInMs!);
    expect(retries.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < retries.length; i++) expect(retries[i]!).toBeGreaterThanOrEqual(retries[i - 1]!);
    expect(Math.max(...retries)).toBeLessThanOrEqual(2000);
    expect(h.launcher.status.state).toBe('watching');

    process.stdout.write(
      `[apiserver restart] noticed ${noticedAt - killedAt} ms after the kill; outage ${restartAt - killedAt} ms; apiserver answering ${answeringAt - restartAt} ms after its start; ` +
        `launcher watching again ${resumedAt - answeringAt} ms after that; retries announced: ${retries.join(', ')} ms\n`,
    );
  });
});
