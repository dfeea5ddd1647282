/**
 * The real node itself: Ready next to the KWOK node, the pinned kubelet and containerd, and the
 * taint that keeps every pod without the toleration (all KWOK-driven tests) off it.
 */
import { describe, expect, it } from 'vitest';

import { eventually, kube } from '../../cluster/kube.js';
import { REAL_NODE_IP, REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { realNodeSkip, useRealNodeNamespace } from './helpers.js';

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
