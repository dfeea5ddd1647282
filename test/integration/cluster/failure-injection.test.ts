/**
 * Failure injection through pod annotations (kwok.offhost.dev/outcome and friends, see
 * test/cluster/README.md): the exit code and reason show in the pod status exactly as a kubelet
 * would report them, and the real Job controller reacts to them.
 */
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { eventually, isLocalCluster, kube, useTestNamespace, watchUntil } from '../../cluster/kube.js';
import { jobManifest, jobPodSelector } from './helpers.js';

const ns = useTestNamespace('failure-injection');

async function podOfJob(jobName: string, until: (p: k8s.V1Pod) => boolean, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  const { core } = kube();
  return eventually(
    async () => {
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: jobPodSelector(jobName) });
      return pods.items.find(until);
    },
    { timeoutMs, what: `a pod of job ${jobName} in the expected state` },
  );
}

async function jobCondition(jobName: string, type: string): Promise<k8s.V1JobCondition> {
  const { batch } = kube();
  return eventually(
    async () => {
      const j = await batch.readNamespacedJob({ name: jobName, namespace: ns.name });
      return j.status?.conditions?.find((c) => c.type === type && c.status === 'True');
    },
    { timeoutMs: 60_000, what: `job ${jobName} condition ${type}` },
  );
}

describe.skipIf(!isLocalCluster())('failure injection', () => {
  it('fails the container with the requested exit code, reason and message', { timeout: 90_000 }, async () => {
    const { batch } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({
        name: 'exit-3',
        annotations: {
          'kwok.offhost.dev/outcome': 'fail',
          'kwok.offhost.dev/exit-code': '3',
          'kwok.offhost.dev/reason': 'Error',
          'kwok.offhost.dev/message': 'ValueError: bad input',
          'kwok.offhost.dev/run-time': '1s',
        },
      }),
    });
    const pod = await podOfJob('exit-3', (p) => p.status?.phase === 'Failed');
    const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(term?.exitCode).toBe(3);
    expect(term?.reason).toBe('Error');
    expect(term?.message).toBe('ValueError: bad input');
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(false);

    const failed = await jobCondition('exit-3', 'Failed');
    expect(failed.reason).toBe('BackoffLimitExceeded');
  });

  it('defaults a plain failure to exit code 1, reason Error', { timeout: 90_000 }, async () => {
    const { batch } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({ name: 'plain-fail', annotations: { 'kwok.offhost.dev/outcome': 'fail', 'kwok.offhost.dev/run-time': '1s' } }),
    });
    const pod = await podOfJob('plain-fail', (p) => p.status?.phase === 'Failed');
    const term = pod.status?.containerStatuses?.[0]?.state?.terminated;
    expect(term?.exitCode).toBe(1);
    expect(term?.reason).toBe('Error');
  });

  it('reports OOMKilled with exit code 137 for every container', { timeout: 90_000 }, async () => {
    const { batch } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({
        name: 'oom',
        containers: 2,
        annotations: { 'kwok.offhost.dev/outcome': 'oom', 'kwok.offhost.dev/run-time': '2s' },
      }),
    });
    const pod = await podOfJob('oom', (p) => p.status?.phase === 'Failed');
    const statuses = pod.status?.containerStatuses ?? [];
    expect(statuses).toHaveLength(2);
    for (const s of statuses) {
      expect(s.state?.terminated?.exitCode).toBe(137);
      expect(s.state?.terminated?.reason).toBe('OOMKilled');
    }
    await jobCondition('oom', 'Failed');
  });

  it('keeps a never-ready pod Running but not Ready, past its run time', { timeout: 90_000 }, async () => {
    const { batch } = kube();
    const runTime = { 'kwok.offhost.dev/run-time': '1s' };
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({ name: 'never-ready', annotations: { 'kwok.offhost.dev/outcome': 'never-ready', ...runTime } }),
    });
    const pod = await podOfJob('never-ready', (p) => p.status?.phase === 'Running');
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(false);
    expect(pod.status?.containerStatuses?.[0]?.state?.running).toBeTruthy();
    expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    // "Stays not ready" needs a bounded wait; instead of a fixed sleep, the bound is a witness: a
    // plain pod with the same run time, started only now. Once kwok has taken the witness from
    // start to Succeeded, it has had more than the never-ready pod's run time to act on that pod
    // too. Watching the namespace from before the witness starts shows every change to either pod.
    const isJob = (p: k8s.V1Pod, job: string) => p.metadata?.labels?.['batch.kubernetes.io/job-name'] === job;
    const events = await watchUntil<k8s.V1Pod>(
      `/api/v1/namespaces/${ns.name}/pods`,
      { resourceVersion: pod.metadata!.resourceVersion! },
      (ev) => isJob(ev.object, 'witness') && ev.object.status?.phase === 'Succeeded',
      { timeoutMs: 60_000, start: () => batch.createNamespacedJob({ namespace: ns.name, body: jobManifest({ name: 'witness', annotations: runTime }) }) },
    );
    const witnessPhases = events.filter((e) => isJob(e.object, 'witness')).map((e) => e.object.status?.phase);
    expect(witnessPhases).toContain('Running');
    const seen = events.filter((e) => isJob(e.object, 'never-ready'));
    for (const { type, object } of seen) {
      expect(type, 'the never-ready pod is neither deleted nor replaced').toBe('MODIFIED');
      expect(object.metadata?.name).toBe(pod.metadata!.name);
      expect(object.status?.phase).toBe('Running');
      expect(object.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    }
    const job = await batch.readNamespacedJob({ name: 'never-ready', namespace: ns.name });
    expect(job.status?.ready ?? 0).toBe(0);
    expect(job.status?.active).toBe(1);
    const { core } = kube();
    const now = await core.readNamespacedPod({ name: pod.metadata!.name!, namespace: ns.name });
    expect(now.status?.phase).toBe('Running');
    expect(now.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('delays the start of a pod by kwok.offhost.dev/start-delay', { timeout: 90_000 }, async () => {
    const { batch, core } = kube();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: jobManifest({ name: 'slow-start', annotations: { 'kwok.offhost.dev/start-delay': '8s' } }),
    });
    const created = await podOfJob('slow-start', (p) => !!p.status?.podIP);
    // Bound and "ContainerCreating", not yet running.
    expect(created.status?.phase).toBe('Pending');
    expect(created.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ContainerCreating');
    const running = await podOfJob('slow-start', (p) => p.status?.phase !== 'Pending');
    expect(['Running', 'Succeeded']).toContain(running.status?.phase);
    const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: jobPodSelector('slow-start') });
    expect(pods.items).toHaveLength(1);
  });
});
