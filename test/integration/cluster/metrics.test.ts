/**
 * Usage emulation: a running pod annotated kwok.offhost.dev/usage-cpu / usage-memory is reported
 * with that usage by metrics.k8s.io (metrics-server scraping KWOK), and `kubectl top` shows it;
 * each fake node reports its pods' usage plus a fixed overhead (test/cluster/kwok/metrics.yaml).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { parseCpu, parseMemory } from '../../../shared/quantity.js';
import { binDir, loadSettings } from '../../cluster/config.js';
import { eventually, isLocalCluster, kube, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';
import { jobManifest, jobPodSelector } from './helpers.js';

const ns = useTestNamespace('metrics');

const MiB = 2 ** 20;
/** What each fake node adds to its pods' usage (kwok/metrics.yaml, README "Metrics"). */
const NODE_OVERHEAD = { cpuMillis: 50, memoryBytes: 256 * MiB };
/**
 * CPU is a rate metrics-server computes between two scrapes of a cumulative counter, so it may be
 * off by the few milliseconds between kwok's and metrics-server's clocks: allow 1% (and 1m for
 * the rounding up of nanocores to millicores). Memory is a gauge and must be exact.
 */
const cpuClose = (actual: number, wanted: number) => Math.abs(actual - wanted) <= Math.max(1, wanted * 0.01) + 1;

async function runningPod(job: string): Promise<k8s.V1Pod> {
  const { core } = kube();
  return eventually(
    async () => {
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: jobPodSelector(job) });
      return pods.items.find((p) => p.status?.phase === 'Running');
    },
    { timeoutMs: 60_000, what: `a Running pod of job ${job}` },
  );
}

describe.skipIf(!isLocalCluster())('metrics.k8s.io', () => {
  it('returns the usage the pod annotations ask for, per container', { timeout: 150_000 }, async () => {
    const { batch, metrics } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({
        name: 'busy',
        containers: 2,
        requests: { cpu: '500m', memory: '512Mi' },
        limits: { cpu: '1', memory: '1Gi' },
        annotations: {
          'kwok.offhost.dev/usage-cpu': '250m',
          'kwok.offhost.dev/usage-memory': '300Mi',
          'kwok.offhost.dev/run-time': '10m',
        },
      }),
    });
    const podName = (await runningPod('busy')).metadata!.name!;

    // metrics-server needs two scrapes (resolution 10s) to compute a CPU rate.
    const m = await eventually(
      async () => {
        const list = await metrics.getPodMetrics(ns.name);
        return list.items.find((i) => i.metadata.name === podName);
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: `metrics of pod ${podName}` },
    );
    expect(m.containers.map((c) => c.name).sort()).toEqual(['main', 'side-1']);
    for (const c of m.containers) {
      expect(parseMemory(c.usage.memory), `memory of ${c.name}: ${c.usage.memory}`).toBe(300 * MiB);
      const cpu = parseCpu(c.usage.cpu);
      expect(cpuClose(cpu, 250), `CPU of ${c.name}: ${c.usage.cpu} (${cpu}m), annotated 250m`).toBe(true);
    }

    // the same figures through kubectl top (the binary built with the cluster): the pod's sum
    const { stdout } = await promisify(execFile)(`${binDir()}/kubectl`, [
      '--kubeconfig', kubeconfigPath(), 'top', 'pod', '-n', ns.name, podName, '--no-headers',
    ]);
    const [name, cpu, mem] = stdout.trim().split(/\s+/);
    expect(name).toBe(podName);
    expect(cpuClose(parseCpu(cpu!), 500), `kubectl top CPU ${cpu}, annotated 2 × 250m`).toBe(true);
    expect(mem).toBe('600Mi');
  });

  it('reports each fake node as the usage of its pods plus the fixed overhead', { timeout: 150_000 }, async () => {
    const { core, batch, metrics } = kube();
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    const names = nodes.items.map((n: k8s.V1Node) => n.metadata!.name!).sort();
    expect(names.length).toBeGreaterThan(0);
    // A pod with a large, known usage on one node, so that node's figure is far from the bare overhead.
    const target = names[names.length - 1]!;
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({
        name: 'pinned',
        node: target,
        annotations: {
          'kwok.offhost.dev/usage-cpu': '700m',
          'kwok.offhost.dev/usage-memory': '1Gi',
          'kwok.offhost.dev/run-time': '10m',
        },
      }),
    });
    const pinned = await runningPod('pinned');
    expect(pinned.spec?.nodeName).toBe(target);

    // kwok sums every pod it knows on the node (whatever its phase), each container at the pod's
    // annotated usage or the cluster's default. Pods of other files may come and go between a
    // scrape and our listing, so poll until one scrape agrees with the pods listed around it.
    const defaults = loadSettings();
    const expectedFor = (pods: k8s.V1Pod[]) => {
      const out = new Map(names.map((n) => [n, { cpuMillis: NODE_OVERHEAD.cpuMillis, memoryBytes: NODE_OVERHEAD.memoryBytes }]));
      for (const p of pods) {
        const e = out.get(p.spec?.nodeName ?? '');
        if (!e) continue;
        const a = p.metadata?.annotations ?? {};
        const containers = p.spec?.containers.length ?? 0;
        e.cpuMillis += containers * parseCpu(a['kwok.offhost.dev/usage-cpu'] ?? defaults.defaultUsageCpu);
        e.memoryBytes += containers * parseMemory(a['kwok.offhost.dev/usage-memory'] ?? defaults.defaultUsageMemory);
      }
      return out;
    };
    let last = '';
    try {
      await eventually(
        async () => {
          const before = await core.listPodForAllNamespaces();
          const got = await metrics.getNodeMetrics();
          const after = await core.listPodForAllNamespaces();
          const expected = expectedFor(before.items);
          // Only a scrape taken while the pod set was steady can be compared.
          if (JSON.stringify([...expected]) !== JSON.stringify([...expectedFor(after.items)])) return false;
          const problems: string[] = [];
          for (const n of names) {
            const item = got.items.find((i) => i.metadata.name === n);
            const want = expected.get(n)!;
            if (!item) {
              problems.push(`${n}: no metrics`);
              continue;
            }
            const cpu = parseCpu(item.usage.cpu);
            const mem = parseMemory(item.usage.memory);
            if (mem !== want.memoryBytes || !cpuClose(cpu, want.cpuMillis)) {
              problems.push(`${n}: ${item.usage.cpu} (${cpu}m) / ${item.usage.memory} (${mem} B), expected ${want.cpuMillis}m / ${want.memoryBytes} B`);
            }
          }
          last = problems.join('; ');
          return problems.length === 0;
        },
        { timeoutMs: 90_000, intervalMs: 1000, what: 'node metrics that match the pods on each node' },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last mismatch: ${last || 'none seen'}`);
    }
  });
});
