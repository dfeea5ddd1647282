// The launcher on the local control plane (KWOK nodes), SQLite store. `npm run bench` prints:
//  1. a pod status change written to the API → the job row updated and jobs.changed delivered:
//     p50/p99 over 100 jobs. The bench writes the change itself (pods/status: the container
//     terminates with exit 0) and times from just before that write to the event.
//  2. the launch path (DB row, state machine, quotas, Job + Service create, row written) for 50
//     apps against creating the same 50 Jobs + Services directly with client-node, as a ratio
//     (vitest's table gives each side's time).
//  3. 1,000 jobs queued → all Jobs created and all pods Running (the bench adds KWOK nodes for
//     room: the cluster's own hold 3 × 110 pods), with the pod events and row changes per second,
//     next to creating the same Jobs directly; then 9,000 finished rows more (10,000 in all) and
//     the RSS of a process of its own running the launcher on that database (launcher-rss-child.ts).
// The cluster is started if it is not running, and stopped again afterwards if started here.
import { randomUUID } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { DEFAULT_SETTINGS, jobTag } from '../../shared/content';
import { DEFAULT_QUOTAS, type Quotas } from '../../shared/quota';
import { TaskService, newTaskId } from '../../main/content/tasks';
import { EventBus } from '../../main/events';
import { loadKube } from '../../main/kube/config';
import { jobManifest, objectName, serviceManifest, type LaunchSpec } from '../../main/kube/manifests';
import { Launcher } from '../../main/launcher/launcher';
import { silentLogger } from '../../main/log';
import { bundlesRepo } from '../../main/store/bundles-repo';
import { NO_RUNTIMES, contentRepo } from '../../main/store/content-repo';
import { openStore, type Store } from '../../main/store/db';
import { jobsRepo } from '../../main/store/jobs-repo';
import { tasksRepo } from '../../main/store/tasks-repo';
import { loadSettings, statePaths } from '../cluster/config';
import { down, status, up } from '../cluster/controlplane';

const LATENCY_JOBS = 100;
const LAUNCH_JOBS = 50;
// Small requests, so every pod fits on the fake nodes.
const QUOTAS: Quotas = {
  ...DEFAULT_QUOTAS,
  cpu_request: { min: 0.001, default: 0.001, max: 4 },
  cpu_limit: { min: 0.001, default: 0.01, max: 8 },
  memory_request: { min: 1024 ** 2, default: 1024 ** 2, max: 16 * 1024 ** 3 },
  memory_limit: { min: 1024 ** 2, default: 4 * 1024 ** 2, max: 32 * 1024 ** 3 },
  max_concurrent_jobs: 10_000,
};

let startedHere = false;
let dir: string;
let kubeconfig: string;
let namespace: string;
let store: Store;
let events: EventBus;
let launcher: Launcher;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let content: { id: number; guid: string; name: string; bundleId: number; taskId: string };
const latencies: number[] = [];
const timings: Record<string, number[]> = { launcher: [], direct: [] };
let direct = 0;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * Jobs of one content item. Runs (apps) get a Service; their pods never turn Ready
 * (kwok.offhost.dev/outcome: never-ready), or each newer one would replace the older ones.
 */
async function queue(n: number, annotations: Record<string, string>, kind: 'run' | 'build' = 'run'): Promise<number[]> {
  const ids: number[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < n; i++) {
    const job = await jobsRepo.insertQueued(
      store.db,
      {
        key: `b${randomUUID().replace(/-/g, '').slice(0, 16)}`,
        content_id: content.id,
        bundle_id: content.bundleId,
        task_id: content.taskId,
        kind,
        tag: jobTag(kind, 'python-fastapi'),
        after_job_id: null,
        environment_guid: randomUUID(),
        image: 'registry.invalid/offhost/runner:bench',
        resources: { cpu_request_millicores: null, cpu_limit_millicores: null, memory_request_bytes: null, memory_limit_bytes: null, service_account_name: null, init_timeout: null, idle_timeout: null },
      },
      now,
    );
    ids.push(job.id);
    keyOf.set(job.id, job.key);
  }
  annotationsFor = annotations;
  return ids;
}
let annotationsFor: Record<string, string> = {};
const keyOf = new Map<number, string>();

/** Resolves when every id reached a state `ok` accepts (checked on each jobs.changed). */
function until(ids: number[], ok: (state: string) => boolean): Promise<void> {
  const left = new Set(ids);
  return new Promise((resolve) => {
    const off = events.on('jobs.changed', (e) => {
      if (!ok(e.state)) return;
      void jobsRepo.getMany(store.db, [...left]).then((rows) => {
        for (const r of rows) if (ok(r.state)) left.delete(r.id);
        if (!left.size) {
          off();
          resolve();
        }
      });
    });
  });
}

beforeAll(async () => {
  const settings = loadSettings();
  if (!(await status(settings)).healthy) {
    await up(settings, { log: () => {} });
    startedHere = true;
  }
  kubeconfig = statePaths(settings.stateDir).kubeconfig;
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  core = kc.makeApiClient(k8s.CoreV1Api);
  batch = kc.makeApiClient(k8s.BatchV1Api);
  namespace = `bench-launcher-${Math.random().toString(36).slice(2, 8)}`;
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bench-launcher-'));
  store = await openStore({ kind: 'sqlite', file: path.join(dir, 'offhost.db') }, silentLogger);
  events = new EventBus();
  const now = new Date().toISOString();
  const guid = randomUUID();
  const c = await contentRepo.insert(store.db, guid, { name: 'bench', title: null, description: '', access_type: 'acl', locked: false, locked_message: '', owner_guid: null, settings: DEFAULT_SETTINGS }, now);
  const b = await bundlesRepo.insert(store.db, { content_id: c.id, sha256: 'b'.repeat(64), size: 1, app_mode: 'python-fastapi', manifest: {}, metadata: {}, created_by: 'bench', created_time: now });
  await contentRepo.recordDeploy(store.db, guid, { bundle_id: b.id, app_mode: 'python-fastapi', content_category: '', parameterized: false, environment_guid: randomUUID(), image_name: 'x', runtimes: NO_RUNTIMES, last_deployed_time: now }, now);
  const task = await tasksRepo.insert(store.db, { id: newTaskId(), kind: 'deploy', content_id: c.id, bundle_id: b.id, activate: true, actor: 'bench', output: [] }, now);
  content = { id: c.id, guid, name: 'bench', bundleId: b.id, taskId: task.id };
  launcher = new Launcher({
    store,
    events,
    tasks: new TaskService(store.db, () => new Date().toISOString()),
    log: silentLogger,
    connect: () => loadKube({ source: { kind: 'files', files: [kubeconfig], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace }),
    quotas: async () => QUOTAS,
    testPodAnnotations: () => annotationsFor,
  });
  launcher.start();

  // 1. Status change → row + event, one job at a time.
  const ids = await queue(LATENCY_JOBS, { 'kwok.offhost.dev/run-time': '3600s' }, 'build');
  launcher.kick();
  await until(ids, (s) => s === 'running');
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/managed-by=offhost' })).items;
  for (const pod of pods) {
    const id = Number(pod.metadata!.labels!['offhost.dev/job-id']);
    const started = pod.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? new Date();
    const done = until([id], (s) => s === 'succeeded');
    const t0 = performance.now();
    await core.patchNamespacedPodStatus({
      name: pod.metadata!.name!,
      namespace,
      body: [
        { op: 'replace', path: '/status/phase', value: 'Succeeded' },
        { op: 'replace', path: '/status/containerStatuses/0/state', value: { terminated: { exitCode: 0, reason: 'Completed', startedAt: started, finishedAt: new Date() } } },
        { op: 'replace', path: '/status/containerStatuses/0/ready', value: false },
      ],
    });
    await done;
    latencies.push(performance.now() - t0);
  }
  await clear();

  // 3. 1,000 jobs queued → all created, all running, next to the same Jobs created directly.
  await addBenchNodes();
  const many = await queue(MANY_JOBS, { 'kwok.offhost.dev/run-time': '3600s' }, 'build');
  const podEvents0 = launcher.status.podEvents;
  let changes = 0;
  const offChanges = events.on('jobs.changed', () => changes++);
  let t0 = performance.now();
  const created = untilKeys(many, (s) => s !== 'queued' && s !== 'creating');
  const running = untilKeys(many, (s) => s === 'running');
  launcher.kick();
  await created;
  manyTimes.created = performance.now() - t0;
  await running;
  manyTimes.launcher = performance.now() - t0;
  manyRates.podEvents = (launcher.status.podEvents - podEvents0) / (manyTimes.launcher / 1000);
  manyRates.changes = changes / (manyTimes.launcher / 1000);
  offChanges();
  // 10,000 rows: the 1,000 live ones and 9,000 finished; the launcher's RSS in a process of its own.
  await addFinishedRows(ROWS - MANY_JOBS);
  rss = await measureRss(MANY_JOBS);
  await clear();
  t0 = performance.now();
  const allRunning = podsRunning(MANY_JOBS);
  // 50 requests at a time: far more at once and the apiserver answers 429 (max-requests-inflight).
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < MANY_JOBS) {
        const id = 2_000_000 + next++;
        await batch.createNamespacedJob({ namespace, body: jobManifest({ ...directSpec(id), job: { id, key: `m${id}`, kind: 'build', tag: 'python_restore', bundle_id: content.bundleId }, deadlineSeconds: 3600, podAnnotations: { 'kwok.offhost.dev/run-time': '3600s' } }) });
      }
    }),
  );
  await allRunning;
  manyTimes.direct = performance.now() - t0;
  await clear();
}, 900_000);

const MANY_JOBS = 1000;
const ROWS = 10_000;
const manyTimes = { created: 0, launcher: 0, direct: 0 };
const manyRates = { podEvents: 0, changes: 0 };
let rss: { rows: number; live: number; baseMiB: number; launcherMiB: number; listedMs: number; podEvents: number } | undefined;
const BENCH_NODES = 4;
const BENCH_NODE_PODS = 250;
const benchNodeName = (i: number) => `bench-kwok-${i}`;

/** More KWOK nodes for room (not labelled node.offhost.dev/fake, so the cluster's checks ignore them); removed in afterAll. */
async function addBenchNodes(): Promise<void> {
  for (let i = 0; i < BENCH_NODES; i++) {
    const name = benchNodeName(i);
    const resources = { cpu: '64', memory: '256Gi', pods: String(BENCH_NODE_PODS), 'ephemeral-storage': '100Gi' };
    await core
      .createNode({
        body: {
          metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok', 'node.offhost.dev/bench': 'true' } },
          status: { capacity: resources, allocatable: resources, addresses: [{ type: 'InternalIP', address: '127.0.0.1' }] },
        },
      })
      .catch((e: { code?: number }) => {
        if (e.code !== 409) throw e;
      });
  }
  for (;;) {
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/bench=true' });
    if (nodes.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length >= BENCH_NODES) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves when every job reached a state `ok` accepts, from the events alone (no reads: the launcher shares this thread). */
function untilKeys(ids: number[], ok: (state: string) => boolean): Promise<void> {
  const left = new Set(ids.map((id) => keyOf.get(id)!));
  return new Promise((resolve) => {
    const off = events.on('jobs.changed', (e) => {
      if (ok(e.state)) left.delete(e.key);
      if (!left.size) {
        off();
        resolve();
      }
    });
  });
}

/** Finished rows (as a long-running installation has), in one transaction. */
async function addFinishedRows(n: number): Promise<void> {
  const now = new Date().toISOString();
  await store.db.transaction().execute(async (trx) => {
    for (let i = 0; i < n; i++) {
      const job = await jobsRepo.insertQueued(
        trx,
        {
          key: `f${randomUUID().replace(/-/g, '').slice(0, 16)}`,
          content_id: content.id,
          bundle_id: content.bundleId,
          task_id: content.taskId,
          kind: 'build',
          tag: jobTag('build', 'python-fastapi'),
          after_job_id: null,
          environment_guid: randomUUID(),
          image: 'registry.invalid/offhost/runner:bench',
          resources: { cpu_request_millicores: null, cpu_limit_millicores: null, memory_request_bytes: null, memory_limit_bytes: null, service_account_name: null, init_timeout: null, idle_timeout: null },
        },
        now,
      );
      await trx.updateTable('jobs').set({ state: 'succeeded', exit_code: 0, created_time: now, started_time: now, finished_time: now }).where('id', '=', job.id).execute();
    }
  });
}

async function measureRss(live: number): Promise<NonNullable<typeof rss>> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/bench/launcher-rss-child.ts', path.join(dir, 'offhost.db'), kubeconfig, namespace, String(live)], { timeout: 300_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as NonNullable<typeof rss>;
}

/** Delete every Job here and wait until no pod is left (the next step needs the nodes' room). */
async function clear(): Promise<void> {
  await batch.deleteCollectionNamespacedJob({ namespace, labelSelector: 'app.kubernetes.io/managed-by=offhost', propagationPolicy: 'Background' });
  await core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/managed-by=offhost' });
  for (;;) {
    const left = await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/managed-by=offhost' });
    if (!left.items.length) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Resolves when `n` of our pods are Running (one watch). */
async function podsRunning(n: number): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const seen = new Set<string>();
  let abort: AbortController | undefined;
  await new Promise<void>((resolve, reject) => {
    void new k8s.Watch(kc)
      .watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: 'app.kubernetes.io/managed-by=offhost' }, (_type: string, pod: k8s.V1Pod) => {
        if (pod.status?.phase === 'Running') seen.add(pod.metadata!.name!);
        if (seen.size >= n) resolve();
      }, (err) => (err ? reject(err as Error) : undefined))
      .then((a) => (abort = a), reject);
  });
  abort?.abort();
}

function directSpec(id: number): LaunchSpec {
  return {
    job: { id, key: `d${id}`, kind: 'run', tag: 'run_fastapi_app', bundle_id: content.bundleId },
    content: { guid: content.guid, name: content.name, app_mode: 'python-fastapi' },
    image: 'registry.invalid/offhost/runner:bench',
    namespace,
    resources: { cpu_request: 0.001, cpu_limit: 0.01, memory_request: 1024 ** 2, memory_limit: 4 * 1024 ** 2, service_account_name: null },
    deadlineSeconds: null,
    ttlSecondsAfterFinished: 600,
    podAnnotations: { 'kwok.offhost.dev/run-time': '1s' },
  };
}

afterAll(async () => {
  await launcher?.stop();
  await store?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await core?.deleteNamespace({ name: namespace }).catch(() => {});
  await core?.deleteCollectionNode({ labelSelector: 'node.offhost.dev/bench=true' }).catch(() => {});
  if (startedHere) await down(loadSettings(), { log: () => {} });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const out = [
    `\nlauncher: pod status change in the API → job row updated + jobs.changed delivered, ${latencies.length} jobs: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
    `launcher: ${MANY_JOBS} jobs queued → all Jobs created ${(manyTimes.created / 1000).toFixed(1)} s, all pods Running ${(manyTimes.launcher / 1000).toFixed(1)} s through the launcher (${manyRates.podEvents.toFixed(0)} pod events/s handled, ${manyRates.changes.toFixed(0)} row changes/s written and announced), ${(manyTimes.direct / 1000).toFixed(1)} s creating the same Jobs directly (${(manyTimes.launcher / manyTimes.direct).toFixed(2)}×)`,
    rss
      ? `launcher: RSS of a process running the launcher on ${rss.rows} job rows (${rss.live} live pods watched): ${rss.launcherMiB.toFixed(0)} MiB (${rss.baseMiB.toFixed(0)} MiB with the modules loaded and the store open, before the launcher started; listed and reconciled in ${(rss.listedMs / 1000).toFixed(1)} s)`
      : 'launcher: RSS not measured',
    `launcher: ${LAUNCH_JOBS} apps (Job + Service each): launch path ${mean(timings.launcher!).toFixed(0)} ms, direct client-node creates ${mean(timings.direct!).toFixed(0)} ms, ratio ${(mean(timings.launcher!) / mean(timings.direct!)).toFixed(2)}× (mean of ${timings.launcher!.length} runs each)`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}, 120_000);

describe('launcher: 50 apps, Job + Service each', () => {
  bench(
    'launch path (rows queued → all created, rows written)',
    async () => {
      const ids = await queue(LAUNCH_JOBS, { 'kwok.offhost.dev/outcome': 'never-ready' });
      const t0 = performance.now();
      const created = until(ids, (s) => s !== 'queued' && s !== 'creating');
      launcher.kick();
      await created;
      timings.launcher!.push(performance.now() - t0);
    },
    { iterations: 3, warmupIterations: 0, time: 0 },
  );

  bench(
    'direct client-node creates (same objects)',
    async () => {
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: LAUNCH_JOBS }, async () => {
          const id = 1_000_000 + ++direct;
          const spec = directSpec(id);
          const job = await batch.createNamespacedJob({ namespace, body: jobManifest(spec) });
          await core.createNamespacedService({ namespace, body: serviceManifest(spec, job.metadata!.uid!) });
          return objectName(id);
        }),
      );
      timings.direct!.push(performance.now() - t0);
    },
    { iterations: 3, warmupIterations: 0, time: 0 },
  );
});
