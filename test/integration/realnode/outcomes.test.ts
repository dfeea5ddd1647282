/**
 * How real pods end on real-0: a real OOM kill, a command's own exit code, a Job deadline.
 */
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { eventually, kube } from '../../cluster/kube.js';
import { figure, imageMeta, job, jobPod, podTimeline, realNodePodSpec, realNodeSkip, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();

function terminated(pod: k8s.V1Pod): k8s.V1ContainerStateTerminated | undefined {
  return pod.status?.containerStatuses?.[0]?.state?.terminated;
}

describe.skipIf(!!skip)('how pods end on the real node', () => {
  const ns = useRealNodeNamespace('rn-outcomes');

  it('a pod exceeding its memory limit is OOMKilled with exit code 137', async () => {
    const { batch } = kube();
    const t0 = Date.now();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: job(
        'oom',
        realNodePodSpec([
          {
            name: 'main',
            image: imageMeta('python').ref,
            // 400 MB of written (not just reserved) memory against a 64Mi limit.
            command: ['python3', '-c', 'b = b"x" * (400 * 1024 * 1024); print(len(b))'],
            resources: { limits: { memory: '64Mi', cpu: '500m' }, requests: { memory: '64Mi', cpu: '100m' } },
          },
        ]),
      ),
    });
    const pod = await jobPod(ns.name, 'oom');
    const t = await podTimeline(ns.name, pod.metadata!.name!, t0);
    expect(t.pod.status?.phase).toBe('Failed');
    expect(terminated(t.pod)).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
    figure('OOM Job (64Mi limit, 400 MB) → Failed', `${t.finished?.toFixed(1)}s`);
  });

  it('a failing command reports its own exit code', async () => {
    const { batch } = kube();
    const t0 = Date.now();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: job('exit-code', realNodePodSpec([{ name: 'main', image: imageMeta('python').ref, command: ['python3', '-c', 'import sys; print("bye"); sys.exit(42)'] }])),
    });
    const pod = await jobPod(ns.name, 'exit-code');
    const t = await podTimeline(ns.name, pod.metadata!.name!, t0);
    expect(t.pod.status?.phase).toBe('Failed');
    expect(terminated(t.pod)).toMatchObject({ reason: 'Error', exitCode: 42 });
    const failed = await eventually(
      async () => (await batch.readNamespacedJobStatus({ namespace: ns.name, name: 'exit-code' })).status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True'),
      { what: 'the Job to fail' },
    );
    expect(failed.reason).toBe('BackoffLimitExceeded');
  });

  it('a deadline ends a long job: the container is killed', async () => {
    const { batch, core } = kube();
    const t0 = Date.now();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: job('deadline', realNodePodSpec([{ name: 'main', image: imageMeta('python').ref, command: ['python3', '-c', 'import time; time.sleep(600)'] }]), {
        activeDeadlineSeconds: 5,
      }),
    });
    const pod = await jobPod(ns.name, 'deadline');
    // It really ran before the deadline ended it.
    await eventually(async () => (await core.readNamespacedPod({ namespace: ns.name, name: pod.metadata!.name! })).status?.phase === 'Running', {
      what: 'the pod to run',
      timeoutMs: 60_000,
    });
    const failed = await eventually(
      async () => (await batch.readNamespacedJobStatus({ namespace: ns.name, name: 'deadline' })).status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True'),
      { what: 'the Job to hit its deadline', timeoutMs: 60_000 },
    );
    expect(failed.reason).toBe('DeadlineExceeded');
    // The Job controller deletes the pod; the kubelet kills the container and the pod goes away.
    await eventually(
      async () => (await core.listNamespacedPod({ namespace: ns.name, labelSelector: 'job-name=deadline' })).items.length === 0,
      { what: 'the deadline pod to be gone', timeoutMs: 60_000 },
    );
    const secs = (Date.now() - t0) / 1000;
    expect(secs).toBeLessThan(60); // not the 600 s the command wanted
    figure('deadline Job (5 s) → pod gone', `${secs.toFixed(1)}s`);
  });
});
