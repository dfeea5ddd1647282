/**
 * vitest globalSetup of the `cluster` project: makes sure a test cluster runs for the whole test
 * run and provides its kubeconfig to the test files (`inject('kubeconfigPath')`, or the helpers in
 * ./kube.ts).
 *
 *  - OFFHOST_TEST_KUBECONFIG=/path/to/kubeconfig → use that cluster (e.g. kind); start nothing.
 *  - a healthy local cluster already runs (`npm run cluster:status` is green) from the binaries of
 *    the pinned versions → reuse it and leave it running afterwards.
 *  - otherwise → `cluster:up` (building the binaries first if needed), and `cluster:down` when the
 *    run ends (unless OFFHOST_CLUSTER_KEEP=1).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

import { binDir, loadSettings, statePaths } from './config.js';
import { down, status, up } from './controlplane.js';
import type { ClusterFlavor } from './provided-context.js';

const log = (msg: string) => process.stderr.write(`[cluster] ${msg}\n`);

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.OFFHOST_TEST_KUBECONFIG;
  if (external) {
    const file = path.resolve(external);
    if (!fs.existsSync(file)) throw new Error(`OFFHOST_TEST_KUBECONFIG=${external}: no such file`);
    log(`using the cluster of OFFHOST_TEST_KUBECONFIG=${file}`);
    project.provide('kubeconfigPath', file);
    project.provide('clusterFlavor', 'external' satisfies ClusterFlavor);
    return undefined;
  }

  const settings = loadSettings();
  const current = await status(settings);
  let startedHere = false;
  if (current.healthy && current.state?.binDir === binDir()) {
    log(`reusing the running cluster in ${settings.stateDir} (it stays up after the tests)`);
  } else {
    const t0 = Date.now();
    await up(settings, { log });
    startedHere = true;
    log(`started for this test run in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
  project.provide('kubeconfigPath', statePaths(settings.stateDir).kubeconfig);
  project.provide('clusterFlavor', 'local' satisfies ClusterFlavor);

  return async () => {
    if (!startedHere) return;
    if (process.env.OFFHOST_CLUSTER_KEEP === '1') {
      log('OFFHOST_CLUSTER_KEEP=1: leaving the cluster running (npm run cluster:down stops it)');
      return;
    }
    await down(settings, { log });
  };
}
