/**
 * Values the cluster global setup hands to test files through vitest's provide/inject.
 * Importing any type from this file brings the augmentation of vitest's ProvidedContext into scope.
 */

/**
 * 'local': the KWOK-based control plane of test/cluster (fake nodes; pods are driven by the
 * kwok.offhost.dev/* annotations; usage is emulated). 'external': a real cluster named by
 * OFFHOST_TEST_KUBECONFIG (e.g. kind), where pods really run.
 */
export type ClusterFlavor = 'local' | 'external';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the test cluster. */
    kubeconfigPath: string;
    clusterFlavor: ClusterFlavor;
    /** realnode project: why the real node cannot run here ('' when it runs). */
    realNodeSkip: string;
    /** realnode project: the state directory of the cluster that has the real node. */
    realNodeStateDir: string;
    /** realnode project: why starting the cluster with the real node failed ('' when it runs). */
    realNodeError: string;
  }
}
