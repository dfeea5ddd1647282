// Pure manifest builders (DESIGN.md §5): a job row + content + environment image + effective
// resources → a batch/v1 Job, and a Service for apps and APIs. Names come from the job id, so a
// retried create finds the same object (409) instead of making a second one. The cluster tests
// create exactly these objects in a namespace that enforces Pod Security "restricted".
import type * as k8s from '@kubernetes/client-node';
import { formatCpu, formatMemory } from '../../shared/quantity';
import { isRendered, type AppMode, type JobKind } from '../../shared/content';
import type { EffectiveResources } from '../../shared/quota';
import type { Placement } from './placement';
import type { VolumeMount } from '../../shared/environment';
import { JOB_PATHS, JOB_USER_ID } from '../content/volume';

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
  /**
   * What the pod runs and sees: the content volume's parts and the job's script
   * (main/launcher/execution.ts). Absent only in the launcher's own tests of the job lifecycle on
   * KWOK, whose pods run nothing (containerCommand's line instead).
   */
  execution?: PodExecution;
}

/** The content volume's parts a job's pod mounts, its command, and the environment's own volumes. */
export interface PodExecution {
  /** The PersistentVolumeClaim of the content volume (OFFHOST_CONTENT_CLAIM). */
  claimName: string;
  /** volumeLayout paths inside the claim. */
  bundleSubPath: string;
  librarySubPath: string;
  /** Render jobs only. */
  outputSubPath: string | null;
  /** main/kube/commands.ts jobCommand(). */
  command: string[];
  /** The environment's volume_mounts (NFS exports and claims), at their target paths. */
  environmentMounts: VolumeMount[];
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
 * The command of a job whose spec has no execution: only the launcher's lifecycle tests on KWOK
 * build such jobs (their pods run nothing). Real jobs run main/kube/commands.ts's scripts.
 */
export function containerCommand(kind: JobKind, mode: AppMode, tag: string): string[] {
  const what = `offhost ${kind} job (${tag}) for app mode ${mode}`;
  if (needsService(kind, mode)) return ['sh', '-c', `echo "${what}: no execution (lifecycle test); staying up"; exec sleep infinity`];
  return ['sh', '-c', `echo "${what}: no execution (lifecycle test)"`];
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

const CONTENT_VOLUME = 'content';
const WORK_VOLUME = 'work';

/** Pod volumes and the main container's mounts for a job's execution. */
function executionVolumes(x: PodExecution, kind: JobKind): { volumes: k8s.V1Volume[]; mounts: k8s.V1VolumeMount[] } {
  const volumes: k8s.V1Volume[] = [
    { name: CONTENT_VOLUME, persistentVolumeClaim: { claimName: x.claimName } },
    { name: WORK_VOLUME, emptyDir: {} },
  ];
  const mounts: k8s.V1VolumeMount[] = [
    { name: CONTENT_VOLUME, mountPath: JOB_PATHS.bundle, subPath: x.bundleSubPath, readOnly: true },
    // Only the build writes the library; the app and the render use it as it was restored.
    { name: CONTENT_VOLUME, mountPath: JOB_PATHS.library, subPath: x.librarySubPath, readOnly: kind !== 'build' },
    ...(x.outputSubPath !== null ? [{ name: CONTENT_VOLUME, mountPath: JOB_PATHS.output, subPath: x.outputSubPath }] : []),
    { name: WORK_VOLUME, mountPath: JOB_PATHS.work },
  ];
  x.environmentMounts.forEach((m, i) => {
    const name = `env-${i}`;
    volumes.push(
      m.source.volume_type === 'nfs'
        ? { name, nfs: { server: m.source.nfs_host, path: m.source.nfs_export_path, readOnly: m.target.read_only } }
        : { name, persistentVolumeClaim: { claimName: m.source.pvc_name, readOnly: m.target.read_only } },
    );
    mounts.push({ name, mountPath: m.target.path, readOnly: m.target.read_only });
  });
  return { volumes, mounts };
}

export function jobManifest(s: LaunchSpec): k8s.V1Job {
  const name = objectName(s.job.id);
  const account = s.resources.service_account_name;
  const serves = needsService(s.job.kind, s.content.app_mode);
  const x = s.execution;
  const vols = x ? executionVolumes(x, s.job.kind) : undefined;
  const podSpec: k8s.V1PodSpec = {
    restartPolicy: 'Never',
    // The token is mounted only for content that names a service account (checked before launch).
    automountServiceAccountToken: account !== null,
    ...(account !== null ? { serviceAccountName: account } : {}),
    enableServiceLinks: false,
    ...(s.placement && Object.keys(s.placement.nodeSelector).length ? { nodeSelector: { ...s.placement.nodeSelector } } : {}),
    ...(s.placement?.tolerations.length ? { tolerations: s.placement.tolerations.map((t) => ({ ...t })) } : {}),
    // fsGroup: volumes that support ownership (most claims) are made writable for the job's group.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: JOB_USER_ID,
      runAsGroup: JOB_USER_ID,
      ...(x ? { fsGroup: JOB_USER_ID, fsGroupChangePolicy: 'OnRootMismatch' } : {}),
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(vols ? { volumes: vols.volumes } : {}),
    containers: [
      {
        name: MAIN_CONTAINER,
        image: s.image,
        command: x ? x.command : containerCommand(s.job.kind, s.content.app_mode, s.job.tag),
        ...(x ? { workingDir: JOB_PATHS.work, volumeMounts: vols!.mounts } : {}),
        resources: {
          requests: { cpu: formatCpu(Math.round(s.resources.cpu_request * 1000)), memory: formatMemory(s.resources.memory_request) },
          limits: { cpu: formatCpu(Math.round(s.resources.cpu_limit * 1000)), memory: formatMemory(s.resources.memory_limit) },
        },
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        ...(serves ? { ports: [{ name: 'http', containerPort: APP_PORT, protocol: 'TCP' }] } : {}),
        // Ready when it answers: the launcher reports ready (and the Service routes) only then.
        ...(serves && x ? { readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 1 } } : {}),
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
