// The content volume (DESIGN.md §4): one layout for desktop and in-cluster mode, on one
// PersistentVolumeClaim; a job pod mounts the parts it needs under JOB_VOLUME_PATH (JOB_PATHS):
//   bundles/<sha256>/              a bundle's files, extracted once (read-only to jobs)
//   libraries/<content guid>/<key>/ a content's package library for one environment and lock file
//   jobs/<job id>/output/          what a render job produced
// Two ways to fill it: `mounted` (in-cluster: the server mounts the same claim and writes files
// directly) and `copied` (desktop: the cluster can't reach the workstation, so files go in and
// come out through the Kubernetes API, by exec into a small store pod that holds the claim).
import path from 'node:path';
import { RESERVED_MOUNT_ROOT } from '../../shared/environment';

/**
 * Where job pods see the content volume's parts: under the root environments may not mount over
 * (shared/environment.ts), so an environment's own volume can never hide the bundle.
 */
export const JOB_VOLUME_PATH = RESERVED_MOUNT_ROOT;
/** The mount points in a job pod (main/kube/manifests.ts mounts them, main/kube/commands.ts uses them). */
export const JOB_PATHS = {
  /** volumeLayout.bundle(sha256), read-only. */
  bundle: `${JOB_VOLUME_PATH}/bundle`,
  /** volumeLayout.library(guid, key): read-write for the build job, read-only for the others. */
  library: `${JOB_VOLUME_PATH}/library`,
  /** volumeLayout.output(jobId), render jobs only. */
  output: `${JOB_VOLUME_PATH}/output`,
  /** An emptyDir: the bundle is copied here and run here (tools write next to their input); also HOME. */
  work: `${JOB_VOLUME_PATH}/work`,
} as const;
/** The uid and gid job pods run as; directories jobs write are made writable for them. */
export const JOB_USER_ID = 999;

const SHA256 = /^[0-9a-f]{64}$/;
const GUID = /^[0-9a-f-]{36}$/;
const KEY = /^[0-9a-z][0-9a-z._-]{0,127}$/;

/** Paths relative to the volume's root; every part is checked, so none can climb out. */
export const volumeLayout = {
  bundle(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.posix.join('bundles', sha256);
  },
  library(contentGuid: string, key: string): string {
    if (!GUID.test(contentGuid)) throw new Error(`not a content guid: ${contentGuid}`);
    if (!KEY.test(key)) throw new Error(`not a library key: ${key}`);
    return path.posix.join('libraries', contentGuid, key);
  },
  output(jobId: number): string {
    if (!Number.isSafeInteger(jobId) || jobId < 1) throw new Error(`not a job id: ${jobId}`);
    return path.posix.join('jobs', String(jobId), 'output');
  },
};

export interface ContentVolume {
  readonly mode: 'mounted' | 'copied';
  /** The PersistentVolumeClaim job pods mount at JOB_VOLUME_PATH. */
  readonly claimName: string;
  /**
   * Make bundle <sha256> present, extracted, at volumeLayout.bundle(sha256). Idempotent (a bundle
   * already there is not copied again) and safe to retry after an interruption; `progress` gets
   * lines in plain words for the deploy task.
   */
  ensureBundle(sha256: string, archive: string, progress?: (line: string) => void): Promise<void>;
  /**
   * Make directories (paths from volumeLayout, relative to the volume's root) exist and be
   * writable by job pods (JOB_USER_ID), before a pod mounts them: a subPath the kubelet has to
   * create itself belongs to root, and the job could not write it. Idempotent.
   */
  ensureWritable(dirs: string[]): Promise<void>;
  /** Copy a finished job's output directory (volumeLayout.output) into local directory `dest`. */
  fetchOutput(jobId: number, dest: string): Promise<void>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
