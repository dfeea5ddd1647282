/**
 * RBAC is really enforced: a ServiceAccount without rights is refused (403); once a Role allowing
 * pods/list is bound to it, listing pods works — and only that. Tokens come from the TokenRequest
 * API, i.e. they are signed by the apiserver's service-account key. Works on any cluster.
 */
import { describe, expect, it } from 'vitest';

import { apiErrorCode, eventually, kube, kubeConfigWithToken, useTestNamespace } from '../../cluster/kube.js';

const ns = useTestNamespace('rbac');

async function tokenFor(serviceAccount: string, namespace: string): Promise<string> {
  const { core } = kube();
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    const code = apiErrorCode(err);
    if (code === undefined) throw err;
    return code;
  }
}

describe('RBAC', () => {
  it('refuses a ServiceAccount with no rights, and allows pods/list once a Role grants it', { timeout: 60_000 }, async () => {
    const { core, rbac } = kube();
    const namespace = ns.name;
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'runner' } } });
    const token = await tokenFor('runner', namespace);
    expect(token.split('.')).toHaveLength(3); // a JWT

    const asRunner = kube(kubeConfigWithToken(token));
    // authenticated (not 401) but not authorized
    expect(await statusOf(asRunner.core.listNamespacedPod({ namespace }))).toBe(403);

    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'runner-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'runner', namespace }],
      },
    });

    const list = await eventually(() => asRunner.core.listNamespacedPod({ namespace }), {
      timeoutMs: 30_000,
      what: 'pods/list allowed by the new RoleBinding',
    });
    expect(list.items).toEqual([]);

    // the Role grants list on pods in this namespace only
    expect(await statusOf(asRunner.core.listNamespacedSecret({ namespace }))).toBe(403);
    expect(await statusOf(asRunner.core.listNamespacedPod({ namespace: 'kube-system' }))).toBe(403);
    expect(
      await statusOf(
        asRunner.core.createNamespacedPod({
          namespace,
          body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'x' }] } },
        }),
      ),
    ).toBe(403);
  });

  it('rejects a forged token with 401', async () => {
    const asNobody = kube(kubeConfigWithToken('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'));
    expect(await statusOf(asNobody.core.listNamespacedPod({ namespace: ns.name }))).toBe(401);
  });
});
