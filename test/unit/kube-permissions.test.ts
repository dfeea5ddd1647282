// main/kube/permissions.ts is the one list of what Offhost does with the Kubernetes API. This reads
// the code that calls the API (every client-node call in main/) and checks each call is in the list
// for where it runs — so a new call without its permission fails here, before the chart's Role or
// test connection is wrong. The cluster test helm-rbac.test.ts proves the in-cluster list on a
// real apiserver (each request made is in it, each entry is used).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APISERVER_PROXY_PERMISSIONS,
  CLUSTER_PERMISSIONS,
  COPIED_VOLUME_PERMISSIONS,
  LAUNCHER_PERMISSIONS,
  neededPermissions,
  permissionKey,
  rbacRules,
} from '../../main/kube/permissions';
import { sourceFiles } from './layering';

const root = path.resolve(__dirname, '../..');
const VERBS: Record<string, string> = { read: 'get', list: 'list', create: 'create', replace: 'update', patch: 'patch', delete: 'delete', deleteCollection: 'deletecollection' };
/** client-node's kind in a method name → RBAC's group/resource. */
const KINDS: Record<string, string> = {
  Job: 'batch/jobs',
  Pod: 'pods',
  PodLog: 'pods/log',
  Service: 'services',
  Event: 'events',
  ServiceAccount: 'serviceaccounts',
  LimitRange: 'limitranges',
  Lease: 'coordination.k8s.io/leases',
  Node: 'nodes',
};

/** Each Kubernetes API call in a source text, as "verb group/resource". */
function callsIn(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/\.(read|list|create|replace|patch|deleteCollection|delete)(Namespaced)?([A-Z][A-Za-z]*)\(/g)) {
    const [, verb, namespaced, kind] = m;
    if (kind === 'NamespacedCustomObject' || kind === 'CustomObject') continue; // below, by group
    if (!namespaced && kind !== 'Node') continue; // not an API call (createHash, readFile, …)
    const resource = KINDS[kind!];
    if (!resource) throw new Error(`an API call on ${kind} (${m[0]}): add it to KINDS here and to main/kube/permissions.ts`);
    found.push(`${VERBS[verb!]} ${resource}`);
  }
  for (const m of text.matchAll(/(list|get)NamespacedCustomObject\(\{ group: '([^']+)'[^}]*plural: '([^']+)'/g)) found.push(`${m[1]} ${m[2]}/${m[3]}`);
  for (const m of text.matchAll(/new k8s\.Watch\([^)]*\)\s*\.watch\(\s*`\/api\/v1\/namespaces\/\$\{[^}]+\}\/([a-z]+)`/g)) found.push(`watch ${m[1]}`);
  if (/new k8s\.Log\(/.test(text)) found.push('get pods/log');
  if (/new k8s\.Exec\(/.test(text)) found.push('create pods/exec');
  if (/\/services\/\$\{[^}]+\}:http\/proxy/.test(text)) found.push('get services/proxy');
  return found;
}

const calls = new Map<string, string[]>();
for (const file of sourceFiles(root, 'main')) {
  const rel = path.relative(root, file);
  if (rel === 'main/kube/check.ts') continue; // test connection: SelfSubjectAccessReviews, /version, the metrics probe
  const found = callsIn(fs.readFileSync(file, 'utf8'));
  if (found.length) calls.set(rel, [...new Set(found)]);
}
const keys = (list: readonly { verb: string; group: string; resource: string; subresource?: string }[]) => new Set(list.map(permissionKey));

describe('main/kube/permissions.ts against the code', () => {
  it('finds the API calls (so the checks below can fail)', () => {
    expect(calls.get('main/launcher/launcher.ts')).toEqual(expect.arrayContaining(['create batch/jobs', 'watch pods', 'get pods/log', 'create services']));
    expect(calls.get('main/kube/lease.ts')).toEqual(expect.arrayContaining(['update coordination.k8s.io/leases']));
    expect(() => callsIn('core.readNamespacedSecret({ name })')).toThrow(/add it to KINDS here and to main\/kube\/permissions.ts/);
  });

  it('every call the in-cluster server makes is in LAUNCHER_PERMISSIONS (or the optional cluster-wide list)', () => {
    const allowed = keys([...LAUNCHER_PERMISSIONS, ...CLUSTER_PERMISSIONS]);
    const desktopOnly = new Set(['main/content/volume-copied.ts']);
    const outside = [...calls].filter(([f]) => !desktopOnly.has(f)).flatMap(([f, cs]) => cs.filter((c) => !allowed.has(c) && !(f === 'main/content/proxy.ts' && c === 'get services/proxy')).map((c) => `${f}: ${c}`));
    expect(outside).toEqual([]);
  });

  it("the desktop's extras cover the store pod and the service proxy", () => {
    const copied = keys([...LAUNCHER_PERMISSIONS, ...COPIED_VOLUME_PERMISSIONS]);
    expect((calls.get('main/content/volume-copied.ts') ?? []).filter((c) => !copied.has(c))).toEqual([]);
    expect(calls.get('main/content/volume-copied.ts')).toContain('create pods/exec');
    expect(keys(APISERVER_PROXY_PERMISSIONS)).toContain('get services/proxy');
  });

  it('neededPermissions: in-cluster is exactly the Role; the desktop adds what its modes use; no duplicates', () => {
    expect(neededPermissions({ volume: 'mounted', proxy: 'direct' })).toEqual([...LAUNCHER_PERMISSIONS]);
    expect(neededPermissions({ volume: null, proxy: 'direct' })).toEqual([...LAUNCHER_PERMISSIONS]);
    const desktop = neededPermissions({ volume: 'copied', proxy: 'apiserver' }).map(permissionKey);
    expect(desktop).toHaveLength(LAUNCHER_PERMISSIONS.length + COPIED_VOLUME_PERMISSIONS.length + APISERVER_PROXY_PERMISSIONS.length);
    expect(new Set(desktop).size).toBe(desktop.length);
    expect(desktop).toEqual(expect.arrayContaining(['create pods/exec', 'delete pods', 'create services/proxy']));
    for (const p of [...LAUNCHER_PERMISSIONS, ...COPIED_VOLUME_PERMISSIONS, ...APISERVER_PROXY_PERMISSIONS]) expect(p.why, permissionKey(p)).toMatch(/^to /);
  });

  it('rbacRules groups the list into one rule per group and resource, every verb kept', () => {
    const rules = rbacRules();
    const back = rules.flatMap((r) => r.verbs.map((v) => `${v} ${r.apiGroups[0] ? `${r.apiGroups[0]}/` : ''}${r.resources[0]}`));
    expect(back.sort()).toEqual(LAUNCHER_PERMISSIONS.map(permissionKey).sort());
    expect(rules.find((r) => r.resources[0] === 'jobs')).toEqual({ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'delete'] });
  });
});
