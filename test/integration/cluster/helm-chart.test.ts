/**
 * Issue 12 item 4: the Helm chart (build/helm/offhost) with the helm that cluster:build compiles:
 * `helm lint`, `helm template` under several values, the Role equal to the code's permission list
 * (main/kube/permissions.ts), what the server reads from the environment parsed by the server's own
 * config code, and a server-side dry-run (dryRun: 'All') of every rendered object on the test
 * cluster, in a namespace that enforces Pod Security "restricted" (the Deployment's pod too).
 */
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { bootstrapAdminKey, loadConfig } from '../../../main/config';
import { CLUSTER_PERMISSIONS, LAUNCHER_PERMISSIONS, permissionKey, rbacRules } from '../../../main/kube/permissions';
import { CHART_DIR, helm, helmVersion, renderChart, renderError, type K8sObject } from '../../cluster/helm.js';
import { apiErrorMessage, kube, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';

const ns = useTestNamespace('helm-chart');
const installNs = useTestNamespace('helm-install');
const BASE = { 'database.existingSecret': 'offhost-database' };

type Container = k8s.V1Container;
const find = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
const one = <T = K8sObject>(objs: K8sObject[], kind: string): T => {
  const found = find(objs, kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as T;
};

/** The Role's rules as "verb group/resource[/sub]" strings, like permissionKey. */
function roleKeys(role: k8s.V1Role | k8s.V1ClusterRole): string[] {
  return (role.rules ?? []).flatMap((r) =>
    (r.apiGroups ?? []).flatMap((g) =>
      (r.resources ?? []).flatMap((res) => {
        const [resource, subresource] = res.split('/');
        return r.verbs.map((verb) => permissionKey({ verb, group: g, resource: resource!, subresource }));
      }),
    ),
  );
}

/** The environment the server container gets, with each mounted Secret's file as the pod would see it. */
function serverEnv(deployment: k8s.V1Deployment): Record<string, string> {
  const c = deployment.spec!.template.spec!.containers[0]!;
  return Object.fromEntries((c.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

describe('helm lint and template', () => {
  it('helm lint --strict passes', () => {
    expect(helmVersion()).toMatch(/^v3\.\d+\.\d+/);
    const r = helm(['lint', '--strict', CHART_DIR, '--set', 'database.existingSecret=offhost-database']);
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('the Role grants exactly main/kube/permissions.ts (LAUNCHER_PERMISSIONS), bound to the server account', () => {
    const objs = renderChart({ namespace: 'offhost', set: BASE });
    const role = one<k8s.V1Role>(objs, 'Role');
    expect(roleKeys(role).sort()).toEqual(LAUNCHER_PERMISSIONS.map(permissionKey).sort());
    const binding = one<k8s.V1RoleBinding>(objs, 'RoleBinding');
    const sa = one(objs, 'ServiceAccount');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata!.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'offhost' }]);
    // Cluster-wide: only CLUSTER_PERMISSIONS (list nodes), and only while rbac.readNodes is on.
    const clusterRole = one<k8s.V1ClusterRole>(objs, 'ClusterRole');
    expect(roleKeys(clusterRole).sort()).toEqual(CLUSTER_PERMISSIONS.map(permissionKey).sort());
    expect(one<k8s.V1ClusterRoleBinding>(objs, 'ClusterRoleBinding')).toMatchObject({ roleRef: { kind: 'ClusterRole', name: clusterRole.metadata!.name }, subjects: binding.subjects });
    const without = renderChart({ namespace: 'offhost', set: { ...BASE, 'rbac.readNodes': false } });
    expect(without.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    const deployment = one<k8s.V1Deployment>(objs, 'Deployment');
    expect(deployment.spec!.template.spec!.serviceAccountName).toBe(sa.metadata.name);
  });

  it('renders the Deployment secure: non-root, read-only root, restricted context, probes, /tmp emptyDir, ≥ 2 replicas', () => {
    const objs = renderChart({ namespace: 'offhost', set: BASE });
    expect(objs.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'ServiceAccount']);
    const d = one<k8s.V1Deployment>(objs, 'Deployment');
    expect(d.spec!.replicas).toBeGreaterThanOrEqual(2);
    const pod = d.spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0] as Container;
    expect(c.securityContext).toEqual({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
    expect(c.startupProbe?.httpGet).toMatchObject({ path: '/healthz' });
    expect(c.resources?.requests).toBeDefined();
    expect(c.resources?.limits).toBeDefined();
    expect(c.image).toBe('offhost.local/offhost-server:0.1.0');
    const mounts = Object.fromEntries((c.volumeMounts ?? []).map((m) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries((pod.volumes ?? []).map((v) => [v.name, v]));
    expect(volumes[mounts['/tmp']!]!.emptyDir).toBeDefined();
    const pvc = one(objs, 'PersistentVolumeClaim');
    const env = serverEnv(d);
    expect(volumes[mounts[env.OFFHOST_CONTENT_VOLUME!]!]!.persistentVolumeClaim?.claimName).toBe(pvc.metadata.name);
    expect(env.OFFHOST_CONTENT_CLAIM).toBe(pvc.metadata.name);
    // The data directory (uploaded archives) is on the shared claim, so every replica sees every upload.
    expect(env.OFFHOST_DATA_DIR!.startsWith(`${env.OFFHOST_CONTENT_VOLUME}/`)).toBe(true);
    expect(c.env?.find((e) => e.name === 'OFFHOST_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(env).not.toHaveProperty('DATABASE_URL');
    expect(env).not.toHaveProperty('OFFHOST_TRUST_PROXY');
    expect(env).not.toHaveProperty('OFFHOST_PUBLIC_URL');
    expect(one<k8s.V1PodDisruptionBudget>(objs, 'PodDisruptionBudget').spec!.minAvailable).toBe(1);
  });

  it('secrets come as files: DATABASE_URL_FILE and OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE point into mounted Secret keys', () => {
    const objs = renderChart({ namespace: 'offhost', set: BASE });
    const d = one<k8s.V1Deployment>(objs, 'Deployment');
    const pod = d.spec!.template.spec!;
    const c = pod.containers[0]!;
    const env = serverEnv(d);
    const secretFile = (file: string) => {
      const mount = c.volumeMounts!.find((m) => file.startsWith(`${m.mountPath}/`))!;
      expect(mount.readOnly).toBe(true);
      const secret = pod.volumes!.find((v) => v.name === mount.name)!.secret!;
      const item = secret.items!.find((i) => `${mount.mountPath}/${i.path}` === file)!;
      return { secretName: secret.secretName!, key: item.key };
    };
    expect(secretFile(env.DATABASE_URL_FILE!)).toEqual({ secretName: 'offhost-database', key: 'database-url' });
    const apiKey = secretFile(env.OFFHOST_BOOTSTRAP_ADMIN_KEY_FILE!);
    const secret = find(objs, 'Secret').find((s) => s.metadata.name === apiKey.secretName) as k8s.V1Secret;
    const value = Buffer.from(secret.data![apiKey.key]!, 'base64').toString();
    // The generated key is one the server accepts.
    expect(bootstrapAdminKey({ OFFHOST_BOOTSTRAP_ADMIN_KEY: value })).toBe(value);
    expect(secret.metadata!.annotations!['helm.sh/resource-policy']).toBe('keep');
  });

  it('database.url makes the database Secret; neither nor a non-PostgreSQL URL fails with what to set', () => {
    const objs = renderChart({ namespace: 'offhost', set: { 'database.url': 'postgres://offhost:pw@db:5432/offhost' } });
    const db = find(objs, 'Secret').find((s) => s.metadata.name === 'offhost-database') as k8s.V1Secret;
    expect(db.stringData).toEqual({ 'database-url': 'postgres://offhost:pw@db:5432/offhost' });
    expect(renderError({ namespace: 'offhost' })).toMatch(/needs PostgreSQL: set database.existingSecret .* or database.url/);
    expect(renderError({ namespace: 'offhost', set: { 'database.url': 'sqlite:/x.db' } })).toMatch(/database.url must start with postgres/);
    expect(renderError({ namespace: 'offhost', set: { ...BASE, replicaCount: 0 } })).toMatch(/replicaCount must be at least 1/);
  });

  it('existing Secrets and claim are used as they are (nothing generated)', () => {
    const objs = renderChart({ namespace: 'offhost', set: { ...BASE, 'apiKey.existingSecret': 'my-key', 'contentVolume.existingClaim': 'shared-nfs' } });
    expect(find(objs, 'Secret')).toEqual([]);
    expect(find(objs, 'PersistentVolumeClaim')).toEqual([]);
    const env = serverEnv(one<k8s.V1Deployment>(objs, 'Deployment'));
    expect(env.OFFHOST_CONTENT_CLAIM).toBe('shared-nfs');
  });

  it("ingress with TLS: https public URL (Secure cookies) and the trusted proxy, as the server's config reads them", () => {
    const objs = renderChart({ namespace: 'offhost', set: { ...BASE, 'ingress.enabled': true, 'ingress.host': 'offhost.example.org', 'ingress.className': 'nginx' } });
    const ing = one<k8s.V1Ingress>(objs, 'Ingress');
    expect(ing.spec!.tls).toEqual([{ hosts: ['offhost.example.org'], secretName: 'offhost-tls' }]);
    expect(ing.spec!.rules![0]!.http!.paths[0]!.backend.service).toEqual({ name: 'offhost', port: { name: 'http' } });
    const env = serverEnv(one<k8s.V1Deployment>(objs, 'Deployment'));
    const config = loadConfig({ OFFHOST_PUBLIC_URL: env.OFFHOST_PUBLIC_URL, OFFHOST_TRUST_PROXY: env.OFFHOST_TRUST_PROXY }, { dataDir: '/tmp', kube: null });
    expect(config.publicUrl?.toString()).toBe('https://offhost.example.org/');
    expect(config.trustProxy).toBe(1);
    // Without TLS the address is http (no Secure cookies), still behind the proxy.
    const plain = serverEnv(one<k8s.V1Deployment>(renderChart({ namespace: 'offhost', set: { ...BASE, 'ingress.enabled': true, 'ingress.tls.enabled': false } }), 'Deployment'));
    expect(plain.OFFHOST_PUBLIC_URL).toBe('http://offhost.example.com/');
  });
});

describe('server-side dry-run on the test cluster', () => {
  it("every rendered object passes the apiserver's validation and admission (dryRun: All), the pod Pod Security 'restricted'", async () => {
    const { core, objects } = kube();
    // Enforce "restricted" in the namespace, as the launcher's tests do for content.
    await core.patchNamespace({ name: ns.name, body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const objs = renderChart({ namespace: ns.name, set: { ...BASE, 'ingress.enabled': true } });
    const accepted: string[] = [];
    for (const o of objs) {
      const created = await objects.create(o as k8s.KubernetesObject, undefined, 'All');
      expect(created.metadata?.name).toBe(o.metadata.name);
      accepted.push(`${o.kind}/${o.metadata.name}`);
    }
    expect(accepted).toHaveLength(objs.length);
    // Dry-run: nothing was stored.
    expect((await core.listNamespacedServiceAccount({ namespace: ns.name })).items.map((s) => s.metadata!.name)).toEqual(['default']);
    // A Deployment's pod template is checked by Pod Security only as a warning: create its pod (dry-run) to have it enforced.
    const d = one<k8s.V1Deployment>(objs, 'Deployment');
    const pod: k8s.V1Pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'offhost-pod-check', namespace: ns.name, labels: d.spec!.template.metadata!.labels }, spec: { ...d.spec!.template.spec!, serviceAccountName: 'default' } };
    await expect(core.createNamespacedPod({ namespace: ns.name, body: pod, dryRun: 'All' })).resolves.toMatchObject({ metadata: { name: 'offhost-pod-check' } });
    // The check can fail: the same pod with a writable root and privilege escalation is refused.
    const bad = structuredClone(pod);
    bad.spec!.containers[0]!.securityContext = { ...bad.spec!.containers[0]!.securityContext, allowPrivilegeEscalation: true };
    const refused = await core.createNamespacedPod({ namespace: ns.name, body: bad, dryRun: 'All' }).then(() => undefined, (e: unknown) => e);
    expect(apiErrorMessage(refused)).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  });
});

describe('helm install, upgrade and uninstall on the test cluster', () => {
  it('the generated API key stays the same across an upgrade; uninstall keeps it and the content claim', async () => {
    const { core, rbac } = kube();
    const kubeconfig = ['--kubeconfig', kubeconfigPath(), '--namespace', installNs.name];
    await core.createNamespacedSecret({ namespace: installNs.name, body: { metadata: { name: 'offhost-database' }, stringData: { 'database-url': 'postgres://offhost:pw@db:5432/offhost' } } });
    const key = async () => Buffer.from((await core.readNamespacedSecret({ name: 'offhost-api-key', namespace: installNs.name })).data!['admin-key']!, 'base64').toString();
    try {
      helm(['install', 'offhost', CHART_DIR, ...kubeconfig, '--set', 'database.existingSecret=offhost-database']);
      const first = await key();
      expect(bootstrapAdminKey({ OFFHOST_BOOTSTRAP_ADMIN_KEY: first })).toBe(first);
      expect((await rbac.readNamespacedRole({ name: 'offhost', namespace: installNs.name })).rules).toHaveLength(rbacRules().length);
      helm(['upgrade', 'offhost', CHART_DIR, ...kubeconfig, '--set', 'database.existingSecret=offhost-database', '--set', 'replicaCount=3']);
      expect(await key()).toBe(first);
      expect((await kube().apps.readNamespacedDeployment({ name: 'offhost', namespace: installNs.name })).spec?.replicas).toBe(3);
      helm(['uninstall', 'offhost', ...kubeconfig, '--wait']);
      expect(await key()).toBe(first);
      expect((await core.readNamespacedPersistentVolumeClaim({ name: 'offhost-content', namespace: installNs.name })).metadata?.name).toBe('offhost-content');
      await expect(rbac.readNamespacedRole({ name: 'offhost', namespace: installNs.name })).rejects.toThrow();
    } finally {
      helm(['uninstall', 'offhost', ...kubeconfig], { allowFail: true });
      await rbac.deleteClusterRoleBinding({ name: `offhost-${installNs.name}-nodes` }).catch(() => undefined);
      await rbac.deleteClusterRole({ name: `offhost-${installNs.name}-nodes` }).catch(() => undefined);
    }
  });
});
