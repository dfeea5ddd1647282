/**
 * The real node itself: Ready next to the KWOK node, the pinned kubelet and containerd, and the
 * taint that keeps every pod without the toleration (all KWOK-driven tests) off it.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, inject, it } from 'vitest';

import { eventually, kube } from '../../cluster/kube.js';
import { makeLeaf } from '../../cluster/pki.js';
import { KUBELET_PORT, REAL_NODE_IP, REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { realNodeSkip, useRealNodeNamespace } from './helpers.js';

/** GET on the kubelet's own API (port 10250), with an optional client certificate. */
function kubeletGet(urlPath: string, ca: Buffer, client?: { cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: REAL_NODE_IP, port: KUBELET_PORT, path: urlPath, ca, ...(client ?? {}), timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

const skip = realNodeSkip();

describe.skipIf(!!skip)('the real node', () => {
  const ns = useRealNodeNamespace('rn-node');

  it('is Ready, tainted, reached by IP, and runs the pinned kubelet and containerd', async () => {
    const { core } = kube();
    const node = await core.readNode({ name: REAL_NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.spec?.taints).toContainEqual(expect.objectContaining(REAL_NODE_TAINT));
    expect(node.metadata?.labels?.[REAL_NODE_LABEL]).toBe('true');
    expect(node.status?.addresses).toContainEqual({ type: 'InternalIP', address: REAL_NODE_IP });
    expect(node.status?.nodeInfo?.kubeletVersion).toBe('v1.36.3');
    expect(node.status?.nodeInfo?.containerRuntimeVersion).toBe('containerd://2.4.2');
    // The KWOK nodes are still there, untainted.
    const fake = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    expect(fake.items.length).toBeGreaterThan(0);
    for (const n of fake.items) expect(n.spec?.taints ?? []).toEqual([]);
  });

  it('kubelet API: no anonymous access; client certificates are authorized by the apiserver (webhook)', async () => {
    const pki = path.join(inject('realNodeStateDir'), 'pki');
    const ca = fs.readFileSync(path.join(pki, 'ca.crt'));
    // The serving certificate verifies against the cluster CA for the node IP (no insecure TLS here).
    expect(await kubeletGet('/pods', ca)).toBe(401);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-kubelet-client-'));
    try {
      const signer = { cert: path.join(pki, 'ca.crt'), key: path.join(pki, 'ca.key') };
      const nobody = makeLeaf(dir, 'nobody', signer, '/CN=offhost-test-nobody', 'clientAuth');
      const read = (c: { cert: string; key: string }) => ({ cert: fs.readFileSync(c.cert), key: fs.readFileSync(c.key) });
      // Authenticated but without RBAC rights on nodes/proxy: the SubjectAccessReview says no.
      expect(await kubeletGet('/pods', ca, read(nobody))).toBe(403);
      // The apiserver's own kubelet client certificate is allowed.
      const apiserver = { cert: path.join(pki, 'client-apiserver-kubelet.crt'), key: path.join(pki, 'client-apiserver-kubelet.key') };
      expect(await kubeletGet('/pods', ca, read(apiserver))).toBe(200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps pods without the toleration off it: they go to KWOK nodes, or stay Pending if they insist', async () => {
    const { core } = kube();
    // A KWOK-style pod: no toleration, no selector → a fake node.
    await core.createNamespacedPod({
      namespace: ns.name,
      body: { metadata: { name: 'kwok-pod' }, spec: { containers: [{ name: 'main', image: 'registry.invalid/never-pulled' }] } },
    });
    const placed = await eventually(async () => (await core.readNamespacedPod({ namespace: ns.name, name: 'kwok-pod' })).spec?.nodeName, {
      what: 'kwok-pod to be scheduled',
    });
    expect(placed).toMatch(/^kwok-node-/);

    // Asking for real-0 without the toleration: never scheduled, and the scheduler says why.
    await core.createNamespacedPod({
      namespace: ns.name,
      body: {
        metadata: { name: 'no-toleration' },
        spec: { nodeSelector: { 'kubernetes.io/hostname': REAL_NODE_NAME }, containers: [{ name: 'main', image: 'registry.invalid/never-pulled' }] },
      },
    });
    const cond = await eventually(
      async () =>
        (await core.readNamespacedPod({ namespace: ns.name, name: 'no-toleration' })).status?.conditions?.find(
          (c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable',
        ),
      { what: 'no-toleration to be Unschedulable' },
    );
    expect(cond.message).toMatch(/untolerated taint/);
    expect((await core.readNamespacedPod({ namespace: ns.name, name: 'no-toleration' })).spec?.nodeName).toBeUndefined();
  });
});
