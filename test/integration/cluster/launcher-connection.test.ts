/**
 * "Test connection" against the real apiserver: with the admin's kubeconfig everything is
 * granted and metrics.k8s.io answers; with a service account that may only run Jobs, the report
 * names each missing verb and resource (from SelfSubjectAccessReviews) and why it is needed.
 */
import { describe, expect, it } from 'vitest';
import { testConnection, NEEDED_PERMISSIONS } from '../../../main/kube/check.js';
import { loadKube } from '../../../main/kube/config.js';
import { isLocalCluster, kube, kubeconfigPath, kubeConfigWithToken, useTestNamespace } from '../../cluster/kube.js';

const ns = useTestNamespace('launcher-conn');

describe.skipIf(!isLocalCluster())('test connection', () => {
  it('admin: version, every permission granted, metrics answer', async () => {
    const conn = loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name });
    const r = await testConnection(conn);
    expect(r.version).toMatchObject({ ok: true, gitVersion: expect.stringMatching(/^v1\.\d+\.\d+/) });
    expect(r.missing).toEqual([]);
    expect(r.permissions).toHaveLength(NEEDED_PERMISSIONS.length);
    expect(r.ok).toBe(true);
    expect(r.metrics.ok).toBe(true);
  });

  it('a service account that may only manage Jobs: the rest is named as missing, with why', async () => {
    const { core, rbac } = kube();
    await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: 'jobs-only' } } });
    await rbac.createNamespacedRole({
      namespace: ns.name,
      body: { metadata: { name: 'jobs-only' }, rules: [{ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'watch', 'delete'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns.name,
      body: { metadata: { name: 'jobs-only' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'jobs-only' }, subjects: [{ kind: 'ServiceAccount', name: 'jobs-only', namespace: ns.name }] },
    });
    const tr = await core.createNamespacedServiceAccountToken({ name: 'jobs-only', namespace: ns.name, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const kc = kubeConfigWithToken(tr.status!.token);
    const r = await testConnection({ kc, context: kc.getCurrentContext(), namespace: ns.name, server: kc.getCurrentCluster()!.server });
    expect(r.ok).toBe(false);
    expect(r.version.ok).toBe(true);
    expect(r.missing).not.toContain(expect.stringMatching(/jobs/));
    expect(r.missing).toContain("get pods/log (to show and keep a job's log)");
    expect(r.missing).toContain('create services (to reach apps and APIs)');
    expect(r.missing).toContain('update limitranges (to mirror the quotas as a LimitRange)');
    expect(r.missing).toHaveLength(NEEDED_PERMISSIONS.filter((p) => p.resource !== 'jobs').length);
    expect(r.metrics.ok).toBe(false);
    expect(r.metrics.message).toMatch(/HTTP 403/);
  });
});
