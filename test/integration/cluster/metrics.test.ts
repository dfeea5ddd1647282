/**
 * Usage emulation: a running pod annotated kwok.offhost.dev/usage-cpu / usage-memory is reported
 * with that usage by metrics.k8s.io (metrics-server scraping KWOK), and `kubectl top` shows it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { binDir } from '../../cluster/config.js';
import { eventually, isLocalCluster, kube, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';
import { jobManifest, jobPodSelector, quantity } from './helpers.js';

const ns = useTestNamespace('metrics');

describe.skipIf(!isLocalCluster())('metrics.k8s.io', () => {
  it('returns the usage the pod annotations ask for', { timeout: 150_000 }, async () => {
    const { core, batch, metrics } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({
        name: 'busy',
        requests: { cpu: '500m', memory: '512Mi' },
        limits: { cpu: '1', memory: '1Gi' },
        annotations: {
          'kwok.offhost.dev/usage-cpu': '250m',
          'kwok.offhost.dev/usage-memory': '300Mi',
          'kwok.offhost.dev/run-time': '10m',
        },
      }),
    });
    const pod = await eventually(
      async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: jobPodSelector('busy') });
        return pods.items.find((p) => p.status?.phase === 'Running');
      },
      { timeoutMs: 60_000, what: 'a Running pod' },
    );
    const podName = pod.metadata!.name!;

    // metrics-server needs two scrapes (resolution 10s) to compute a CPU rate.
    const m = await eventually(
      async () => {
        const list = await metrics.getPodMetrics(ns.name);
        return list.items.find((i) => i.metadata.name === podName);
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `metrics of pod ${podName}` },
    );
    expect(m.containers).toHaveLength(1);
    const usage = m.containers[0]!.usage;
    expect(quantity(usage.memory)).toBe(300 * 2 ** 20);
    // CPU is a rate between two scrapes of a cumulative counter: allow a little rounding.
    expect(quantity(usage.cpu)).toBeGreaterThan(0.2);
    expect(quantity(usage.cpu)).toBeLessThan(0.3);

    // the same figure through kubectl top (the binary built with the cluster)
    const { stdout } = await promisify(execFile)(`${binDir()}/kubectl`, [
      '--kubeconfig', kubeconfigPath(), 'top', 'pod', '-n', ns.name, podName, '--no-headers',
    ]);
    const [name, cpu, mem] = stdout.trim().split(/\s+/);
    expect(name).toBe(podName);
    expect(quantity(cpu!)).toBeGreaterThan(0.2);
    expect(mem).toBe('300Mi');
  });

  it('reports node metrics for the fake nodes', { timeout: 60_000 }, async () => {
    const { core, metrics } = kube();
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    const names = nodes.items.map((n: k8s.V1Node) => n.metadata!.name!).sort();
    const list = await eventually(
      async () => {
        const l = await metrics.getNodeMetrics();
        return names.every((n) => l.items.some((i) => i.metadata.name === n)) && l;
      },
      { timeoutMs: 45_000, intervalMs: 1000, what: 'node metrics for every fake node' },
    );
    for (const item of list.items.filter((i) => names.includes(i.metadata.name))) {
      expect(quantity(item.usage.memory)).toBeGreaterThanOrEqual(0);
      expect(item.window).toBeTruthy();
    }
  });
});
