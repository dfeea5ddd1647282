// What Offhost does with the Kubernetes API in its namespace — the ONE list, read from the code:
//   main/launcher/launcher.ts   Jobs: create, get (a 409's owner, a vanished pod's verdict), list
//                               (reconciliation), delete (cancel, Foreground propagation); pods:
//                               list + watch (one list-then-watch); pods/log: get (read, keep,
//                               follow); Services: create (apps and APIs); Events: list (FailedCreate,
//                               a job's Events); ServiceAccounts: get (content naming one)
//   main/quotas/limit-range.ts  LimitRanges: list + watch (the one object), get, create, update
//   main/kube/lease.ts          Leases: get, create, update (acquire, renew, release)
//   main/metrics/sampler.ts     PodMetrics (metrics.k8s.io): list; and, cluster-wide, Nodes: list
//                               (the allocatable CPU and memory; optional: CLUSTER_PERMISSIONS)
//   main/content/proxy.ts       in-cluster ('direct' mode): pods list, already above
// Used by "test connection" (main/kube/check.ts: one SelfSubjectAccessReview each) and by the Helm
// chart's Role (build/helm/offhost/templates/rbac.yaml), which must grant exactly these:
// test/unit/helm-chart.test.ts renders the chart and compares; the cluster test
// test/integration/cluster/helm-rbac.test.ts runs the launcher, the LimitRange mirror and the Lease
// as the chart's ServiceAccount through a recording proxy, and checks that every request made is
// in this list and every entry in it is used.
// SelfSubjectAccessReviews and /version, which test connection also calls, are allowed to every
// authenticated user by Kubernetes' default roles (system:basic-user, system:public-info-viewer).
import type { Permission } from '../../shared/cluster';

export const LAUNCHER_PERMISSIONS: readonly Permission[] = [
  ...['create', 'get', 'list', 'delete'].map((verb) => ({ verb, group: 'batch', resource: 'jobs', why: 'to run content as Jobs' })),
  ...['list', 'watch'].map((verb) => ({ verb, group: '', resource: 'pods', why: "to follow each job's pod" })),
  { verb: 'get', group: '', resource: 'pods', subresource: 'log', why: "to show and keep a job's log" },
  { verb: 'create', group: '', resource: 'services', why: 'to reach apps and APIs' },
  { verb: 'list', group: '', resource: 'events', why: "to show a job's Kubernetes Events" },
  { verb: 'get', group: '', resource: 'serviceaccounts', why: "to check a content's service account before launch" },
  ...['get', 'list', 'watch', 'create', 'update'].map((verb) => ({ verb, group: '', resource: 'limitranges', why: 'to mirror the quotas as a LimitRange' })),
  ...['get', 'create', 'update'].map((verb) => ({ verb, group: 'coordination.k8s.io', resource: 'leases', why: 'to pick one instance to run the launcher' })),
  { verb: 'list', group: 'metrics.k8s.io', resource: 'pods', why: "to show each job's CPU and memory use" },
];

/**
 * Cluster-wide and optional: without it the Processes summary has no cluster size, and says why.
 * Not part of test connection (which asks about the namespace); the chart grants it with a
 * ClusterRole unless rbac.readNodes is false.
 */
export const CLUSTER_PERMISSIONS: readonly Permission[] = [{ verb: 'list', group: '', resource: 'nodes', why: "to show the cluster's allocatable CPU and memory" }];

/**
 * Desktop only, in copied mode (OFFHOST_STORE_IMAGE; main/content/volume-copied.ts): the store pod
 * that holds the content claim — get, create, delete — and exec into it (a WebSocket, which
 * Kubernetes authorizes as `create pods/exec`). In-cluster the server mounts the claim instead.
 */
export const COPIED_VOLUME_PERMISSIONS: readonly Permission[] = [
  ...['get', 'create', 'delete'].map((verb) => ({ verb, group: '', resource: 'pods', why: 'to run the store pod that fills the content volume from this desktop' })),
  { verb: 'create', group: '', resource: 'pods', subresource: 'exec', why: 'to copy bundles and outputs through the store pod' },
];

/**
 * Desktop only ('apiserver' mode, main/content/proxy.ts): apps and APIs are reached through the API
 * server's service proxy, whose RBAC verb is the HTTP method's (GET get, POST create, PUT update,
 * PATCH patch, DELETE delete). In-cluster the server goes to the pod directly.
 */
export const APISERVER_PROXY_PERMISSIONS: readonly Permission[] = ['get', 'create', 'update', 'patch', 'delete'].map((verb) => ({
  verb,
  group: '',
  resource: 'services',
  subresource: 'proxy',
  why: 'to reach running apps and APIs through the API server',
}));

/** What test connection asks about for this way of running: in-cluster (the chart) is LAUNCHER_PERMISSIONS alone. */
export function neededPermissions(o: { volume: 'mounted' | 'copied' | null; proxy: 'apiserver' | 'direct' }): Permission[] {
  return [...LAUNCHER_PERMISSIONS, ...(o.volume === 'copied' ? COPIED_VOLUME_PERMISSIONS : []), ...(o.proxy === 'apiserver' ? APISERVER_PROXY_PERMISSIONS : [])];
}

/** "verb group/resource/subresource", as RBAC and the apiserver's 403 messages name them. */
export function permissionKey(p: Pick<Permission, 'verb' | 'group' | 'resource' | 'subresource'>): string {
  return `${p.verb} ${p.group ? `${p.group}/` : ''}${p.resource}${p.subresource ? `/${p.subresource}` : ''}`;
}

/** The same permissions as RBAC rules: one rule per API group and resource, verbs in list order. */
export function rbacRules(permissions: readonly Permission[] = LAUNCHER_PERMISSIONS): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  const rules = new Map<string, { apiGroups: string[]; resources: string[]; verbs: string[] }>();
  for (const p of permissions) {
    const resource = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
    const key = `${p.group}\u0000${resource}`;
    const rule = rules.get(key) ?? { apiGroups: [p.group], resources: [resource], verbs: [] };
    if (!rule.verbs.includes(p.verb)) rule.verbs.push(p.verb);
    rules.set(key, rule);
  }
  return [...rules.values()];
}
