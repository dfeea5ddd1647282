/**
 * cluster:down removes everything the real node set up on this machine; cluster:up brings it back
 * Ready and pods run again.
 */
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, inject, it } from 'vitest';

import { down, up, type ClusterState } from '../../cluster/controlplane.js';
import { eventually, kube } from '../../cluster/kube.js';
import { hostFootprint, REAL_NODE_NAME } from '../../cluster/realnode.js';
import { figure, imageMeta, job, jobPod, podTimeline, realNodeClusterSettings, realNodePodSpec, realNodeSkip } from './helpers.js';

const skip = realNodeSkip();

/** Runs a Job on real-0 until its pod reaches `until` (default: Succeeded). */
async function runPythonJob(namespace: string, name: string, command = ['python3', '-c', 'print("ok")'], until: 'Succeeded' | 'Running' = 'Succeeded'): Promise<void> {
  const { core, batch } = kube();
  await core.createNamespace({ body: { metadata: { name: namespace, labels: { 'offhost.dev/test': 'true' } } } }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 1000)); // the namespace's default ServiceAccount
  const t0 = Date.now();
  await batch.createNamespacedJob({
    namespace,
    body: job(name, realNodePodSpec([{ name: 'main', image: imageMeta('python').ref, command }])),
  });
  const pod = await jobPod(namespace, name);
  if (until === 'Running') {
    await eventually(async () => (await core.readNamespacedPod({ namespace, name: pod.metadata!.name! })).status?.phase === 'Running', {
      what: `${name} running`,
    });
    return;
  }
  const t = await podTimeline(namespace, pod.metadata!.name!, t0);
  expect(t.pod.spec?.nodeName).toBe(REAL_NODE_NAME);
  expect(t.pod.status?.phase).toBe('Succeeded');
}

describe.skipIf(!!skip)('real node across cluster:down + cluster:up', () => {
  beforeAll(() => {
    const err = inject('realNodeError');
    if (err) throw new Error(`the cluster with the real node did not start: ${err}`);
  });

  it('leaves nothing behind on down, and is Ready again after up', { timeout: 300_000 }, async () => {
    const settings = realNodeClusterSettings();
    // A pod has run, so the bridge, a network namespace, mounts and cgroups exist.
    await runPythonJob('rn-restart', 'before');
    const record = JSON.parse(fs.readFileSync('/run/offhost-realnode.json', 'utf8')) as { createdPaths: string[]; ipForward: string };
    const running = hostFootprint(settings.stateDir);
    expect(running.some((f) => f.startsWith('bridge '))).toBe(true);
    expect(running.some((f) => f.startsWith('process kubelet'))).toBe(true);

    await down(settings, { log: () => {} });
    expect(hostFootprint(settings.stateDir)).toEqual([]);
    for (const p of record.createdPaths) expect(fs.existsSync(p), p).toBe(false);
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(record.ipForward);

    const t0 = Date.now();
    const state = await up(settings, { log: () => {} });
    expect(state.realNode?.name).toBe(REAL_NODE_NAME);
    // The image store kept the images: nothing was imported again.
    expect(state.realNode?.imported).toEqual([]);
    const { core } = kube();
    const node = await core.readNode({ name: REAL_NODE_NAME });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    figure(
      'cluster:up with the real node',
      `${((Date.now() - t0) / 1000).toFixed(1)}s total; containerd ${state.realNode!.timings.containerd.toFixed(1)}s, ` +
        `image import ${state.realNode!.timings.images.toFixed(1)}s, kubelet start → Ready ${state.realNode!.timings.ready.toFixed(1)}s`,
    );
    await runPythonJob('rn-restart', 'after');
  });

  it('recovers from a killed node: the next up clears its leftovers and refills the image store', { timeout: 300_000 }, async () => {
    const settings = realNodeClusterSettings();
    // A pod is running when containerd and the kubelet die (SIGKILL, no clean-up of their own).
    await runPythonJob('rn-crash', 'before', ['sleep', '600'], 'Running');
    const state = JSON.parse(fs.readFileSync(path.join(settings.stateDir, 'state.json'), 'utf8')) as ClusterState;
    for (const pid of [state.realNode!.pids.kubelet, state.realNode!.pids.containerd]) process.kill(pid, 'SIGKILL');

    const after = await up(settings, { log: () => {} });
    // The image store was not closed cleanly, so it was wiped and filled again.
    expect(after.realNode?.imported).toEqual(['pause', 'python', 'r']);
    // Nothing of the killed node's pod survived: only the new node's own processes run.
    expect(hostFootprint(settings.stateDir).filter((f) => f.startsWith('process ')).map((f) => f.split(' ')[1])).toEqual(
      expect.arrayContaining(['kubelet', 'containerd']),
    );
    expect(hostFootprint(settings.stateDir).filter((f) => f.startsWith('process containerd-shim'))).toEqual([]);
    await runPythonJob('rn-crash', 'after');
  });
});
