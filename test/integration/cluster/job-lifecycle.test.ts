/**
 * A Job with CPU/memory requests and limits goes through the real scheduler onto a fake (KWOK)
 * node and its pod is seen Pending → Running → Succeeded through a watch; the real Job
 * controller then completes the Job.
 */
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { eventually, isLocalCluster, kube, useTestNamespace, watchUntil } from '../../cluster/kube.js';
import { formatCpu, parseCpu } from '../../../shared/quantity.js';
import { jobManifest, jobPodSelector, phaseSequence } from './helpers.js';

const ns = useTestNamespace('job-lifecycle');

describe.skipIf(!isLocalCluster())('Job lifecycle on fake nodes', () => {
  it('schedules the pod onto a fake node and reports Running then Succeeded', { timeout: 120_000 }, async () => {
    const { core, batch } = kube();
    const name = 'hello';
    const job = jobManifest({
      name,
      requests: { cpu: '1500m', memory: '2Gi' },
      limits: { cpu: '2', memory: '3Gi' },
      annotations: { 'kwok.offhost.dev/run-time': '3s' },
    });

    const events = await watchUntil<k8s.V1Pod>(
      `/api/v1/namespaces/${ns.name}/pods`,
      { labelSelector: jobPodSelector(name) },
      (ev) => ev.object.status?.phase === 'Succeeded',
      { start: () => batch.createNamespacedJob({ namespace: ns.name, body: job }), timeoutMs: 90_000 },
    );

    const pods = events.map((e) => e.object);
    expect(events[0]?.type).toBe('ADDED');
    expect(phaseSequence(pods)).toEqual(['Pending', 'Running', 'Succeeded']);

    const running = pods.find((p) => p.status?.phase === 'Running');
    expect(running?.spec?.nodeName).toMatch(/^kwok-node-\d+$/);
    expect(running?.status?.podIP).toMatch(/^10\.244\./);
    expect(running?.status?.containerStatuses?.[0]?.state?.running?.startedAt).toBeTruthy();
    expect(running?.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');

    const done = pods[pods.length - 1]!;
    const terminated = done.status?.containerStatuses?.[0]?.state?.terminated;
    expect(terminated?.exitCode).toBe(0);
    expect(terminated?.reason).toBe('Completed');
    // the requests/limits went through defaulting/validation unchanged
    expect(done.spec?.containers[0]?.resources?.requests).toEqual({ cpu: '1500m', memory: '2Gi' });
    expect(done.spec?.containers[0]?.resources?.limits).toEqual({ cpu: '2', memory: '3Gi' });

    const finished = await eventually(
      async () => {
        const j = await batch.readNamespacedJob({ name, namespace: ns.name });
        return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') && j;
      },
      { timeoutMs: 60_000, what: 'Job Complete condition' },
    );
    expect(finished.status?.succeeded).toBe(1);
    expect(finished.status?.failed ?? 0).toBe(0);

    const node = await core.readNode({ name: running!.spec!.nodeName! });
    expect(node.status?.capacity?.cpu).toBeDefined();
  });

  it('leaves a pod Pending when no fake node has enough CPU', { timeout: 60_000 }, async () => {
    const { core, batch } = kube();
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    expect(nodes.items.length).toBeGreaterThan(0);
    // One millicore more than the biggest node can offer at all.
    const biggest = Math.max(...nodes.items.map((n) => parseCpu(n.status?.allocatable?.cpu ?? '0')));
    const tooMuch = formatCpu(biggest + 1);
    const name = 'too-big';
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({ name, requests: { cpu: tooMuch }, limits: { cpu: tooMuch } }),
    });
    const pod = await eventually(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: jobPodSelector(name) });
        const p = pods.items[0];
        const cond = p?.status?.conditions?.find((c) => c.type === 'PodScheduled');
        return cond?.status === 'False' && p;
      },
      { timeoutMs: 45_000, what: 'PodScheduled=False' },
    );
    const cond = pod.status!.conditions!.find((c) => c.type === 'PodScheduled')!;
    expect(cond.reason).toBe('Unschedulable');
    expect(cond.message).toContain('Insufficient cpu');
    expect(pod.spec?.nodeName).toBeUndefined();
    expect(pod.status?.phase).toBe('Pending');
  });
});
