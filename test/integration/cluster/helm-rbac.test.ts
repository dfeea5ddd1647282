/**
 * Issue 12 item 4, the RBAC proof: the Helm chart's ServiceAccount, Role and bindings, created in a
 * test namespace from `helm template`, with a token from the TokenRequest API.
 *
 * Sufficient: as that account, through a proxy that records every request (test/cluster/
 * recording-proxy.ts), the product's own code does its work — test connection; the quotas'
 * LimitRange mirror (create, watch, put back); the Lease (take, renew, give up); the launcher (Job +
 * Service for an app with a content service account, the pod watch, a render's kept log, a job's
 * Events and log, a pod deleted behind its back, reconciliation, cancel with Foreground
 * propagation); the metrics sampler. Nothing is refused, every request made is in
 * main/kube/permissions.ts, and every entry of that list is used.
 * Minimal, and failing clearly: with any one verb taken out of the Role, test connection names
 * exactly that permission as missing; and the part of Offhost that uses it, run again, is refused
 * on exactly that permission and says so (its log, or the job's message).
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS, type Quotas } from '../../../shared/quota';
import type { Permission } from '../../../shared/cluster';
import { testConnection } from '../../../main/kube/check';
import type { KubeConnection } from '../../../main/kube/config';
import { LeaderElector } from '../../../main/kube/lease';
import { CLUSTER_PERMISSIONS, LAUNCHER_PERMISSIONS, permissionKey, rbacRules } from '../../../main/kube/permissions';
import { DEFAULT_METRICS_OPTIONS } from '../../../main/metrics/options';
import { MetricsSampler } from '../../../main/metrics/sampler';
import { objectName } from '../../../main/kube/manifests';
import { Launcher } from '../../../main/launcher/launcher';
import { createLogger } from '../../../main/log';
import { LimitRangeSync } from '../../../main/quotas/limit-range';
import { EventBus } from '../../../main/events';
import type { JobRecord } from '../../../main/store/jobs-repo';
import { BACKENDS } from '../backends';
import { renderChart, type K8sObject } from '../../cluster/helm.js';
import { eventually, kube, loadKubeConfig, useTestNamespace } from '../../cluster/kube.js';
import { kubeConfigThrough, startRecordingProxy, type RecordingProxy } from '../../cluster/recording-proxy.js';
import { startHarness } from './launcher-harness';

const ns = useTestNamespace('helm-rbac');
/** Asked by test connection and allowed to every authenticated user by Kubernetes' default roles. */
const UNIVERSAL = new Set(['create authorization.k8s.io/selfsubjectaccessreviews', 'nonresource GET /version']);
const ENDED = ['succeeded', 'failed', 'lost', 'cancelled'];

let proxy: RecordingProxy;
let conn: KubeConnection;
let role: k8s.V1Role;
const clusterObjects: k8s.KubernetesObject[] = [];

beforeAll(async () => {
  const { core, objects } = kube();
  const objs = renderChart({ namespace: ns.name, set: { 'database.existingSecret': 'offhost-database' } });
  const rbac = objs.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind));
  expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
  for (const o of rbac) {
    await objects.create(o as k8s.KubernetesObject);
    // Cluster-wide objects outlive the test namespace: removed in afterAll.
    if (o.kind.startsWith('Cluster')) clusterObjects.push(o as k8s.KubernetesObject);
  }
  role = rbac.find((o) => o.kind === 'Role') as K8sObject as k8s.V1Role;
  const sa = rbac.find((o) => o.kind === 'ServiceAccount')!.metadata.name;
  // A service account content may name (allowed by the quotas below).
  await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'content-reader' } } });
  const tr = await core.createNamespacedServiceAccountToken({ name: sa, namespace: ns.name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  proxy = await startRecordingProxy(loadKubeConfig());
  const kc = kubeConfigThrough(proxy, tr.status!.token, ns.name);
  conn = { kc, context: 'sa', namespace: ns.name, server: proxy.url };
});
afterAll(async () => {
  await proxy?.close();
  for (const o of clusterObjects) await kube().objects.delete(o).catch(() => undefined);
});

/** What a run of Offhost's parts said: log lines, job messages, errors its calls returned. */
interface Said {
  lines: string[];
}
function capture(): Said & { log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger('info', { write: (line: string) => void lines.push(line) }) };
}

/** The permissions of the requests made since `from`, and the refused ones. */
function since(from: number): { used: Set<string>; refused: Set<string> } {
  const reqs = proxy.requests.slice(from);
  return { used: new Set(reqs.map((r) => r.permission)), refused: new Set(reqs.filter((r) => r.status === 401 || r.status === 403).map((r) => r.permission)) };
}

// --- Offhost's parts, as the account. strict: the way they work when everything is granted (each
// step must get there); otherwise each wait is short and a failure is only recorded.

async function step<T>(said: Said, strict: boolean, what: () => Promise<T>): Promise<T | undefined> {
  if (strict) return what();
  try {
    return await what();
  } catch (e) {
    said.lines.push(`(step) ${(e as Error).message}`);
    return undefined;
  }
}

async function limitRangePart(said: Said & { log: ReturnType<typeof createLogger> }, strict: boolean): Promise<void> {
  const admin = kube();
  const sync = new LimitRangeSync({ connect: () => conn, quotas: async () => DEFAULT_QUOTAS, events: new EventBus(), log: said.log, backoffMs: { initial: 200, max: 1000 } });
  const wait = strict ? 30_000 : 2500;
  sync.start();
  try {
    const lr = await step(said, strict, () => eventually(() => admin.core.readNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name }), { what: 'the LimitRange', timeoutMs: wait }));
    if (!lr) return;
    const original = JSON.stringify(lr.spec);
    // Someone edits it: the mirror puts it back.
    await admin.core.replaceNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name, body: { ...lr, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }] } } });
    await step(said, strict, () =>
      eventually(async () => JSON.stringify((await admin.core.readNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name })).spec) === original, { what: 'the LimitRange put back', timeoutMs: wait }),
    );
  } finally {
    await sync.stop();
    await admin.core.deleteNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name }).catch(() => undefined);
  }
}

async function leasePart(said: Said & { log: ReturnType<typeof createLogger> }, strict: boolean): Promise<void> {
  const admin = kube();
  const from = proxy.requests.length;
  let leading = false;
  const elector = new LeaderElector({ connect: () => conn, log: said.log, onLeading: () => void (leading = true), onStopped: async () => void (leading = false), options: { retryMs: 200 } });
  elector.start();
  const wait = strict ? 30_000 : 1500;
  await step(said, strict, () => eventually(async () => leading, { what: 'leadership', timeoutMs: wait }));
  await step(said, strict, () =>
    eventually(async () => proxy.requests.slice(from).some((r) => r.permission === 'update coordination.k8s.io/leases' && r.status === 200), { what: 'a renewal', timeoutMs: wait }),
  );
  await elector.stop();
  if (strict) expect((await admin.kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'offhost-launcher', namespace: ns.name })).spec?.holderIdentity).toBeUndefined();
  await admin.kc.makeApiClient(k8s.CoordinationV1Api).deleteNamespacedLease({ name: 'offhost-launcher', namespace: ns.name }).catch(() => undefined);
}

async function launcherPart(said: Said & { log: ReturnType<typeof createLogger> }, strict: boolean, withMetrics = true): Promise<JobRecord[]> {
  const admin = kube();
  const quotas: Partial<Quotas> = { service_accounts: { allowed: ['content-reader'], default: null } };
  const h = await startHarness(BACKENDS[0]!, ns.name, { start: false, quotas });
  const launcher = new Launcher({
    store: h.store,
    events: h.events,
    tasks: h.tasks,
    log: said.log,
    connect: () => conn,
    quotas: async () => h.quotas,
    options: { backoffMs: { initial: 200, max: 1000 }, podlessCheckMs: 300 },
    testPodAnnotations: (job) => h.annotations.get(job.key),
  });
  const wait = strict ? 60_000 : 4000;
  // Waits for `state`; strict: fails at once with the job's words when it ends elsewhere.
  const reach = async (id: number, state: string) => {
    const j = await h.waitFor(id, (r) => r.state === state || ENDED.includes(r.state), wait);
    if (j.state !== state) throw new Error(`job ${id} ${j.state}, not ${state}: ${j.reason} ${j.message}`);
    return j;
  };
  launcher.start();
  const jobs: number[] = [];
  try {
    // An app (Job + Service) with a content service account, left running.
    const app = await h.content('python-fastapi');
    const run = await h.addJob(app, 'run', 'python-fastapi', { resources: { service_account_name: 'content-reader' }, annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    // A render that ends: its log is kept.
    const doc = await h.content('rmd-static');
    const render = await h.addJob(doc, 'render', 'rmd-static', { annotations: { 'kwok.offhost.dev/run-time': '1s' } });
    // Another app whose pod someone deletes: the launcher reads its Job to tell why.
    const other = await h.content('api');
    const victim = await h.addJob(other, 'run', 'api', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    jobs.push(run.id, render.id, victim.id);
    launcher.kick();

    const running = await step(said, strict, () => reach(run.id, 'running'));
    if (strict) expect(await admin.core.readNamespacedService({ name: objectName(run.id), namespace: ns.name })).toBeDefined();
    await step(said, strict, () => reach(render.id, 'succeeded'));
    if (running) {
      await step(said, strict, () => launcher.kubeEvents(running));
      await step(said, strict, () => launcher.logText(running));
    }
    if (withMetrics) {
      // The metrics sampler (on the leader): the jobs' PodMetrics, and the nodes' allocatable.
      const sampler = new MetricsSampler({ store: h.store, events: h.events, log: said.log, connect: () => conn, options: DEFAULT_METRICS_OPTIONS });
      await sampler.cycle();
    }
    if (await step(said, strict, () => reach(victim.id, 'running'))) {
      const pods = await admin.core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${victim.id}` });
      await admin.core.deleteNamespacedPod({ name: pods.items[0]!.metadata!.name!, namespace: ns.name });
      const lost = await step(said, strict, () => reach(victim.id, 'lost'));
      if (strict) expect(lost).toMatchObject({ reason: 'PodDeleted' });
    }
    await step(said, strict, () => launcher.reconcile());
    await step(said, strict, () => launcher.cancel(run.id, 'test'));
    if (strict) await eventually(async () => (await admin.batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${run.id}` })).items.length === 0, { what: 'the cancelled Job gone' });
    const rows = [];
    for (const id of jobs) rows.push(await h.waitFor(id, () => true));
    return rows;
  } finally {
    await launcher.stop();
    await h.drop();
    // The next run starts from an empty namespace (as the admin: the account may not delete pods).
    await admin.batch.deleteCollectionNamespacedJob({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost', propagationPolicy: 'Background' });
    await admin.core.deleteCollectionNamespacedPod({ namespace: ns.name, labelSelector: 'app.kubernetes.io/managed-by=offhost', gracePeriodSeconds: 0 });
  }
}

async function metricsPart(said: Said & { log: ReturnType<typeof createLogger> }): Promise<void> {
  const h = await startHarness(BACKENDS[0]!, ns.name, { start: false });
  try {
    await new MetricsSampler({ store: h.store, events: h.events, log: said.log, connect: () => conn, options: DEFAULT_METRICS_OPTIONS }).cycle();
  } finally {
    await h.drop();
  }
}

/** Which part of Offhost uses a permission (from the recorded requests of the sufficiency run). */
function partFor(p: Permission): 'limitrange' | 'lease' | 'metrics' | 'launcher' {
  if (p.resource === 'limitranges') return 'limitrange';
  if (p.group === 'coordination.k8s.io') return 'lease';
  if (p.group === 'metrics.k8s.io') return 'metrics';
  return 'launcher';
}

describe("the chart's Role is sufficient and minimal", () => {
  it("test connection, the LimitRange mirror, the Lease, the launcher and the metrics sampler work as the chart's account; each request is in the list and each entry is used", async () => {
    const start = proxy.requests.length;
    const said = capture();
    // Test connection (checked at the end, so a refusal below shows in the recorded requests first).
    const report = await testConnection(conn);
    await limitRangePart(said, true);
    await leasePart(said, true);
    await launcherPart(said, true);

    const { used, refused } = since(start);
    const granted = new Set([...LAUNCHER_PERMISSIONS, ...CLUSTER_PERMISSIONS].map(permissionKey));
    // Sufficient: nothing refused, and nothing asked beyond the list.
    expect([...refused]).toEqual([]);
    expect([...used].filter((p) => !granted.has(p) && !UNIVERSAL.has(p))).toEqual([]);
    // Minimal: every permission in the list was used.
    expect([...granted].filter((p) => !used.has(p))).toEqual([]);
    // And nothing was refused along the way (the parts' warnings would say so).
    expect(said.lines.filter((l) => /forbidden|\b403\b/i.test(l))).toEqual([]);
    // Test connection agrees: every permission granted.
    expect(report.missing).toEqual([]);
    expect(report.ok).toBe(true);
  }, 180_000);

  it('with any one verb taken out of the Role: test connection names exactly it, and the part using it is refused on exactly it and says so', async () => {
    const { rbac } = kube();
    const name = role.metadata!.name!;
    const problems: string[] = [];
    try {
      for (const p of LAUNCHER_PERMISSIONS) {
        const key = permissionKey(p);
        const rest = LAUNCHER_PERMISSIONS.filter((q) => q !== p);
        await rbac.replaceNamespacedRole({ name, namespace: ns.name, body: { ...role, metadata: { name, namespace: ns.name }, rules: rbacRules(rest) } });
        const report = await eventually(
          async () => {
            const r = await testConnection(conn);
            return r.missing.length > 0 && r;
          },
          { what: `the Role without ${key} to take effect`, timeoutMs: 10_000, intervalMs: 100 },
        );
        expect(report.missing, key).toEqual([`${key} (${p.why})`]);

        // The part of Offhost that uses it, run again as the account.
        const from = proxy.requests.length;
        const said = capture();
        let rows: JobRecord[] = [];
        const part = partFor(p);
        if (part === 'limitrange') await limitRangePart(said, false);
        else if (part === 'lease') await leasePart(said, false);
        else if (part === 'metrics') await metricsPart(said);
        else rows = await launcherPart(said, false, false);
        const { refused } = since(from);
        if ([...refused].join() !== key) problems.push(`${key}: refused ${JSON.stringify([...refused])}`);
        // In words, with the apiserver's reason: a log line or a job's message.
        // (A refused watch comes back from client-node without the apiserver's words: the log says
        // the watch was refused with HTTP 403, and test connection names the permission, above.)
        const words = [...said.lines, ...rows.map((r) => `${r.reason} ${r.message}`)].filter(
          (l) => (/forbidden/i.test(l) && l.includes(`cannot ${p.verb} resource`)) || (p.verb === 'watch' && /watch.*HTTP 403 Forbidden: this account may not do it/.test(l)),
        );
        if (words.length === 0) problems.push(`${key}: nothing said it (${said.lines.length} log lines)`);
      }
    } finally {
      await rbac.replaceNamespacedRole({ name, namespace: ns.name, body: { ...role, metadata: { name, namespace: ns.name } } });
    }
    expect(problems).toEqual([]);
    expect((await testConnection(conn)).missing).toEqual([]);
  }, 300_000);
});
