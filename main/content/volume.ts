// The content volume (DESIGN.md §4): one layout for desktop and in-cluster mode, seen by every
// job pod at JOB_VOLUME_PATH (a PersistentVolumeClaim):
//   bundles/<sha256>/              a bundle's files, extracted once (read-only to jobs)
//   libraries/<content guid>/<key>/ a content's package library for one environment and lock file
//   jobs/<job id>/output/          what a render job produced
// Two ways to fill it: `mounted` (in-cluster: the server mounts the same claim and writes files
// directly) and `copied` (desktop: the cluster can't reach the workstation, so files go in and
// come out through the Kubernetes API, by exec into a small store pod that holds the claim).
import path from 'node:path';

/** Where job pods mount the content volume. */
export const JOB_VOLUME_PATH = '/offhost';

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
  /** Copy a finished job's output directory (volumeLayout.output) into local directory `dest`. */
  fetchOutput(jobId: number, dest: string): Promise<void>;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
