/**
 * vitest globalSetup of the `realnode` project: a control plane of its own (state directory
 * OFFHOST_REALNODE_STATE_DIR, default ~/.cache/offhost/cluster/realnode-run) with one KWOK node and
 * the real node real-0, so that the `cluster` project's restart test never pulls the node away.
 *
 * Not root, or the node's pieces not built → nothing starts; the tests skip with the reason
 * (inject('realNodeSkip')), which says how to run them.
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';

import { binDir, defaultStateDir, loadSettings, statePaths } from './config.js';
import { down, status, up } from './controlplane.js';
import type { ClusterFlavor } from './provided-context.js';
import { realNodeUnavailable } from './realnode.js';

const log = (msg: string) => process.stderr.write(`[realnode] ${msg}\n`);

export function realNodeStateDir(): string {
  return path.resolve(process.env.OFFHOST_REALNODE_STATE_DIR || path.join(path.dirname(defaultStateDir()), 'realnode-run'));
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const stateDir = realNodeStateDir();
  project.provide('realNodeStateDir', stateDir);
  project.provide('clusterFlavor', 'local' satisfies ClusterFlavor);
  project.provide('kubeconfigPath', statePaths(stateDir).kubeconfig);
  project.provide('realNodeError', '');
  const why = realNodeUnavailable();
  if (why) {
    log(`skipping the real-node tests: ${why}`);
    project.provide('realNodeSkip', why);
    return undefined;
  }
  project.provide('realNodeSkip', '');
  project.provide('realNodeError', '');

  // Keep in step with realNodeClusterSettings() in test/integration/realnode/helpers.ts.
  const settings = { ...loadSettings(), stateDir, nodes: 1, realNode: true, ports: {} };
  const current = await status(settings);
  let startedHere = false;
  if (current.healthy && current.state?.realNode && current.state.binDir === binDir()) {
    log(`reusing the running cluster with the real node in ${stateDir} (it stays up after the tests)`);
  } else {
    const t0 = Date.now();
    try {
      await up(settings, { log });
    } catch (err) {
      // Fail the real-node tests with the reason, not the whole run (every project shares it).
      log(`FAILED to start the cluster with the real node: ${(err as Error).message}`);
      project.provide('realNodeError', (err as Error).message);
      return undefined;
    }
    startedHere = true;
    log(`cluster + real node up in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  return async () => {
    if (!startedHere || process.env.OFFHOST_CLUSTER_KEEP === '1') return;
    await down(settings, { log });
  };
}
