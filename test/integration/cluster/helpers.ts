/** Small builders shared by the cluster tests. */
import type * as k8s from '@kubernetes/client-node';

export interface JobOptions {
  name: string;
  /** Pod template annotations, e.g. kwok.offhost.dev/outcome. */
  annotations?: Record<string, string>;
  requests?: Record<string, string>;
  limits?: Record<string, string>;
  backoffLimit?: number;
  containers?: number;
  /** Pin the pod to this node (nodeSelector on kubernetes.io/hostname). */
  node?: string;
}

/** A batch Job shaped like the ones the launcher creates: one pod, restartPolicy Never. */
export function jobManifest(o: JobOptions): k8s.V1Job {
  const resources = {
    requests: o.requests ?? { cpu: '500m', memory: '512Mi' },
    limits: o.limits ?? { cpu: '1', memory: '1Gi' },
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, labels: { 'app.kubernetes.io/managed-by': 'offhost-tests' } },
    spec: {
      backoffLimit: o.backoffLimit ?? 0,
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: { 'offhost.dev/test-job': o.name }, annotations: o.annotations ?? {} },
        spec: {
          restartPolicy: 'Never',
          ...(o.node ? { nodeSelector: { 'kubernetes.io/hostname': o.node } } : {}),
          containers: Array.from({ length: o.containers ?? 1 }, (_, i) => ({
            name: i === 0 ? 'main' : `side-${i}`,
            image: 'registry.invalid/offhost/runner:test', // never pulled: KWOK plays the kubelet
            command: ['python', '-c', 'print("hello")'],
            resources,
          })),
        },
      },
    },
  };
}

/** Pods of a Job (label set by the Job controller). */
export function jobPodSelector(jobName: string): string {
  return `batch.kubernetes.io/job-name=${jobName}`;
}

export function podPhase(pod: k8s.V1Pod | undefined): string | undefined {
  return pod?.status?.phase;
}

/** Phases in the order first seen, without repeats: e.g. ['Pending', 'Running', 'Succeeded']. */
export function phaseSequence(pods: k8s.V1Pod[]): string[] {
  const out: string[] = [];
  for (const p of pods) {
    const phase = p.status?.phase;
    if (phase && out[out.length - 1] !== phase) out.push(phase);
  }
  return out;
}
