/**
 * Issue 12 item 4, the RBAC proof: the Helm chart's ServiceAccount, Role and RoleBinding, created
 * in a test namespace from `helm template`, with a token from the TokenRequest API.
 *
 * Sufficient: as that account, through a proxy that records every request (test/cluster/
 * recording-proxy.ts), the product's own code does its work — test connection; the quotas'
 * LimitRange mirror (create, watch, put back); the Lease (take, renew, give up); the launcher
 * (Job + Service for an app, a content service account, the pod watch, a render's kept log, a
 * job's Events and log, a pod deleted behind its back, reconciliation, cancel with Foreground
 * propagation). Nothing is refused, and every request made is in main/kube/permissions.ts.
 * Minimal: every entry of that list was used by those requests; and with any one verb taken out
 * of the Role, test connection names exactly that permission, and only it, as missing.
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS, type Quotas } from '../../../shared/quota';
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
import { BACKENDS } from '../backends';
import { renderChart, type K8sObject } from '../../cluster/helm.js';
import { eventually, kube, loadKubeConfig, useTestNamespace } from '../../cluster/kube.js';
import { kubeConfigThrough, startRecordingProxy, type RecordingProxy } from '../../cluster/recording-proxy.js';
import { startHarness } from './launcher-harness';

const ns = useTestNamespace('helm-rbac');
/** Asked by test connection and allowed to every authenticated user by Kubernetes' default roles, or optional. */
const UNIVERSAL = new Set(['create authorization.k8s.io/selfsubjectaccessreviews', 'nonresource GET /version']);

let proxy: RecordingProxy;
let conn: KubeConnection;
let role: k8s.V1Role;
const clusterObjects: k8s.KubernetesObject[] = [];
const logLines: string[] = [];
const log = createLogger('info', { write: (line: string) => void logLines.push(line) });

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

/** The permissions of the requests made since `from`, with the refused ones. */
function since(from: number): { used: Set<string>; refused: string[] } {
  const reqs = proxy.requests.slice(from);
  return { used: new Set(reqs.map((r) => r.permission)), refused: reqs.filter((r) => r.status === 401 || r.status === 403).map((r) => `${r.permission} (${r.status})`) };
}

describe("the chart's Role is sufficient and minimal", () => {
  it("test connection, the LimitRange mirror, the Lease and the launcher work as the chart's account; each request is in LAUNCHER_PERMISSIONS and each entry is used", async () => {
    const admin = kube();
    const start = proxy.requests.length;

    // Test connection (checked at the end, so a refusal below shows in the recorded requests first).
    const report = await testConnection(conn);

    // The quotas' LimitRange mirror: created, then put back after someone edits it.
    const events = new EventBus();
    const sync = new LimitRangeSync({ connect: () => conn, quotas: async () => DEFAULT_QUOTAS, events, log, backoffMs: { initial: 200, max: 1000 } });
    sync.start();
    try {
      const lr = await eventually(() => admin.core.readNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name }), { what: 'the LimitRange' });
      const original = JSON.stringify(lr.spec);
      await admin.core.replaceNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name, body: { ...lr, spec: { limits: [{ type: 'Container', max: { cpu: '1' } }] } } });
      await eventually(async () => JSON.stringify((await admin.core.readNamespacedLimitRange({ name: 'offhost-quotas', namespace: ns.name })).spec) === original, { what: 'the LimitRange put back' });
    } finally {
      await sync.stop();
    }

    // The Lease: taken (created), renewed, given up.
    let leading = false;
    const elector = new LeaderElector({ connect: () => conn, log, onLeading: () => void (leading = true), onStopped: async () => void (leading = false), options: { retryMs: 200 } });
    elector.start();
    await eventually(async () => leading, { what: 'leadership' });
    await eventually(async () => proxy.requests.slice(start).some((r) => r.permission === 'update coordination.k8s.io/leases' && r.status === 200), { what: 'a renewal' });
    await elector.stop();
    expect((await admin.kc.makeApiClient(k8s.CoordinationV1Api).readNamespacedLease({ name: 'offhost-launcher', namespace: ns.name })).spec?.holderIdentity).toBeUndefined();

    // The launcher, on a real store, as that account.
    const quotas: Partial<Quotas> = { service_accounts: { allowed: ['content-reader'], default: null } };
    const h = await startHarness(BACKENDS[0]!, ns.name, { start: false, quotas });
    const launcher = new Launcher({
      store: h.store,
      events: h.events,
      tasks: h.tasks,
      log,
      connect: () => conn,
      quotas: async () => h.quotas,
      options: { backoffMs: { initial: 200, max: 2000 }, podlessCheckMs: 300 },
      testPodAnnotations: (job) => h.annotations.get(job.key),
    });
    launcher.start();
    try {
      // Waits for `state`, or fails at once with the job's reason when it ends elsewhere (a 403 is said there).
      const ended = ['succeeded', 'failed', 'lost', 'cancelled'];
      const reach = async (id: number, state: string) => {
        const j = await h.waitFor(id, (r) => r.state === state || ended.includes(r.state), 60_000);
        expect(j.state, `job ${id}: ${j.reason} ${j.message}`).toBe(state);
        return j;
      };
      // An app (Job + Service) with a content service account, left running.
      const app = await h.content('python-fastapi');
      const run = await h.addJob(app, 'run', 'python-fastapi', { resources: { service_account_name: 'content-reader' }, annotations: { 'kwok.offhost.dev/run-time': '600s' } });
      // A render that ends: its log is kept.
      const doc = await h.content('rmd-static');
      const render = await h.addJob(doc, 'render', 'rmd-static', { annotations: { 'kwok.offhost.dev/run-time': '1s' } });
      // Another app whose pod someone deletes: the launcher reads its Job to tell why.
      const other = await h.content('api');
      const victim = await h.addJob(other, 'run', 'api', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
      launcher.kick();

      const running = await reach(run.id, 'running');
      expect(await admin.core.readNamespacedService({ name: objectName(run.id), namespace: ns.name })).toBeDefined();
      await reach(render.id, 'succeeded');
      await launcher.kubeEvents(running);
      await launcher.logText(running);
      // The metrics sampler (on the leader): the jobs' PodMetrics, and the nodes' allocatable.
      const sampler = new MetricsSampler({ store: h.store, events: h.events, log, connect: () => conn, options: DEFAULT_METRICS_OPTIONS });
      await sampler.cycle();

      await reach(victim.id, 'running');
      const pods = await admin.core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${victim.id}` });
      await admin.core.deleteNamespacedPod({ name: pods.items[0]!.metadata!.name!, namespace: ns.name });
      expect(await reach(victim.id, 'lost')).toMatchObject({ reason: 'PodDeleted' });

      await launcher.reconcile();
      await launcher.cancel(run.id, 'test');
      await eventually(async () => (await admin.batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${run.id}` })).items.length === 0, { what: 'the cancelled Job gone' });
    } finally {
      await launcher.stop();
      await h.drop();
    }

    const { used, refused } = since(start);
    const granted = new Set([...LAUNCHER_PERMISSIONS, ...CLUSTER_PERMISSIONS].map(permissionKey));
    // Sufficient: nothing refused but the optional metrics probe, and nothing asked beyond the list.
    expect(refused).toEqual([]);
    expect([...used].filter((p) => !granted.has(p) && !UNIVERSAL.has(p))).toEqual([]);
    // Minimal: every permission in the list was used.
    expect([...granted].filter((p) => !used.has(p))).toEqual([]);
    // And nothing the launcher tried was refused along the way (its warnings would say so).
    expect(logLines.filter((l) => /forbidden|\b403\b/i.test(l))).toEqual([]);
    // Test connection agrees: every permission granted.
    expect(report.missing).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('with any one verb taken out of the Role, test connection names exactly that permission as missing', async () => {
    const { rbac } = kube();
    const name = role.metadata!.name!;
    try {
      for (const p of LAUNCHER_PERMISSIONS) {
        const rest = LAUNCHER_PERMISSIONS.filter((q) => q !== p);
        await rbac.replaceNamespacedRole({ name, namespace: ns.name, body: { ...role, metadata: { name, namespace: ns.name }, rules: rbacRules(rest) } });
        const report = await eventually(
          async () => {
            const r = await testConnection(conn);
            return r.missing.length > 0 && r;
          },
          { what: `the Role without ${permissionKey(p)} to take effect`, timeoutMs: 10_000, intervalMs: 100 },
        );
        expect(report.missing, permissionKey(p)).toEqual([`${permissionKey(p)} (${p.why})`]);
        expect(report.ok).toBe(false);
      }
    } finally {
      await rbac.replaceNamespacedRole({ name, namespace: ns.name, body: { ...role, metadata: { name, namespace: ns.name } } });
    }
    expect((await testConnection(conn)).missing).toEqual([]);
  });
});
