// Pure manifest builders (DESIGN.md §5): a job row + content + environment image + effective
// resources → a batch/v1 Job, and a Service for apps and APIs. Names come from the job id, so a
// retried create finds the same object (409) instead of making a second one. The cluster tests
// create exactly these objects in a namespace that enforces Pod Security "restricted".
import type * as k8s from '@kubernetes/client-node';
import { formatCpu, formatMemory } from '../../shared/quantity';
import { isRendered, type AppMode, type JobKind } from '../../shared/content';
import type { EffectiveResources } from '../../shared/quota';
import type { Placement } from './placement';

export const MAIN_CONTAINER = 'main';
/** The port an app or API listens on inside its pod; the Service forwards to it. */
export const APP_PORT = 8080;
/** Our objects, and only ours: what the shared watch and reconciliation select on. */
export const JOB_SELECTOR = 'app.kubernetes.io/managed-by=offhost,offhost.dev/job-id';
/** The job's key, on the Job and its pod: tells our job from a same-numbered one of another database. */
export const KEY_ANNOTATION = 'offhost.dev/job-key';
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  name: 'app.kubernetes.io/name',
  jobId: 'offhost.dev/job-id',
  contentGuid: 'offhost.dev/content-guid',
  kind: 'offhost.dev/kind',
} as const;

export interface LaunchSpec {
  job: { id: number; key: string; kind: JobKind; tag: string; bundle_id: number };
  content: { guid: string; name: string; app_mode: AppMode };
  /** The environment's image. */
  image: string;
  namespace: string;
  /** Clamped by the quotas (effectiveResources); a refused launch never gets here. */
  resources: Pick<EffectiveResources, 'cpu_request' | 'cpu_limit' | 'memory_request' | 'memory_limit' | 'service_account_name'>;
  /** activeDeadlineSeconds; null: none (a running app has no end). */
  deadlineSeconds: number | null;
  /** How long the finished Job (and its pod, for logs) stays; the launcher copies the log first. */
  ttlSecondsAfterFinished: number;
  /** The admin's node selector and tolerations (OFFHOST_JOB_NODE_SELECTOR / _TOLERATIONS); none when absent. */
  placement?: Placement;
  /** Extra pod annotations. Only tests set it (KWOK reads kwok.offhost.dev/* to play a pod's life). */
  podAnnotations?: Record<string, string>;
}

/** The Kubernetes name of everything a job creates: "offhost-job-<id>". */
export function objectName(jobId: number): string {
  if (!Number.isSafeInteger(jobId) || jobId < 1) throw new Error(`a job id must be a positive integer, not ${jobId}`);
  return `offhost-job-${jobId}`;
}

/** Apps and APIs serve requests, so they get a Service; builds and documents do not. */
export function needsService(kind: JobKind, mode: AppMode): boolean {
  return kind === 'run' && !isRendered(mode);
}

/**
 * The container's command line for a kind of work on an app mode. The one place that decides
 * what runs in the pod: the execution step (issue 10) replaces these with the bundle delivery,
 * the package restore and each mode's run command. Until then each job states what it would do
 * and exits 0, so a real node runs it to completion; an app's command keeps running.
 */
export function containerCommand(kind: JobKind, mode: AppMode, tag: string): string[] {
  const what = `offhost ${kind} job (${tag}) for app mode ${mode}`;
  if (needsService(kind, mode)) return ['sh', '-c', `echo "${what}: the execution step is not implemented yet; staying up"; exec sleep infinity`];
  return ['sh', '-c', `echo "${what}: the execution step is not implemented yet"`];
}

function labels(s: LaunchSpec): Record<string, string> {
  return {
    [LABELS.managedBy]: 'offhost',
    [LABELS.name]: 'offhost-content',
    [LABELS.jobId]: String(s.job.id),
    [LABELS.contentGuid]: s.content.guid,
    [LABELS.kind]: s.job.kind,
  };
}

function annotations(s: LaunchSpec): Record<string, string> {
  return {
    [KEY_ANNOTATION]: s.job.key,
    'offhost.dev/tag': s.job.tag,
    'offhost.dev/app-mode': s.content.app_mode,
    'offhost.dev/bundle-id': String(s.job.bundle_id),
    'offhost.dev/content-name': s.content.name,
  };
}

export function jobManifest(s: LaunchSpec): k8s.V1Job {
  const name = objectName(s.job.id);
  const account = s.resources.service_account_name;
  const serves = needsService(s.job.kind, s.content.app_mode);
  const podSpec: k8s.V1PodSpec = {
    restartPolicy: 'Never',
    // The token is mounted only for content that names a service account (checked before launch).
    automountServiceAccountToken: account !== null,
    ...(account !== null ? { serviceAccountName: account } : {}),
    enableServiceLinks: false,
    ...(s.placement && Object.keys(s.placement.nodeSelector).length ? { nodeSelector: { ...s.placement.nodeSelector } } : {}),
    ...(s.placement?.tolerations.length ? { tolerations: s.placement.tolerations.map((t) => ({ ...t })) } : {}),
    securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: MAIN_CONTAINER,
        image: s.image,
        command: containerCommand(s.job.kind, s.content.app_mode, s.job.tag),
        resources: {
          requests: { cpu: formatCpu(Math.round(s.resources.cpu_request * 1000)), memory: formatMemory(s.resources.memory_request) },
          limits: { cpu: formatCpu(Math.round(s.resources.cpu_limit * 1000)), memory: formatMemory(s.resources.memory_limit) },
        },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        ...(serves ? { ports: [{ name: 'http', containerPort: APP_PORT, protocol: 'TCP' }] } : {}),
      },
    ],
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: s.namespace, labels: labels(s), annotations: annotations(s) },
    spec: {
      backoffLimit: 0,
      ...(s.deadlineSeconds !== null ? { activeDeadlineSeconds: s.deadlineSeconds } : {}),
      ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
      template: {
        metadata: { labels: labels(s), annotations: { ...annotations(s), ...(s.podAnnotations ?? {}) } },
        spec: podSpec,
      },
    },
  };
}

/** The Service in front of an app's pod; owned by the Job, so it goes when the Job goes. */
export function serviceManifest(s: LaunchSpec, jobUid: string): k8s.V1Service {
  const name = objectName(s.job.id);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: s.namespace,
      labels: labels(s),
      annotations: annotations(s),
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name, uid: jobUid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      type: 'ClusterIP',
      selector: { [LABELS.jobId]: String(s.job.id), [LABELS.managedBy]: 'offhost' },
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
