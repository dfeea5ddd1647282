import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/*.test.ts'],
          // dist/ for the tests that run the built server and CLI; then PostgreSQL.
          globalSetup: ['test/setup/build-global.ts', 'test/integration/postgres-setup.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          // Posit's Python clients (posit-sdk, rsconnect-python; pinned in test/compat/requirements.txt)
          // against the server; their venv is built once and cached (test/compat/python-setup.ts).
          name: 'compat',
          include: ['test/compat/**/*.test.ts'],
          globalSetup: ['test/integration/postgres-setup.ts', 'test/compat/python-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/integration/cluster/**/*.test.ts'],
          // PostgreSQL too: the launcher's tests run on both store backends.
          globalSetup: ['test/cluster/global-setup.ts', 'test/integration/postgres-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // One file at a time: the files share one cluster, and restart.test.ts stops and
          // restarts it (cluster:down + cluster:up).
          fileParallelism: false,
        },
      },
      {
        test: {
          // Pods that really run: kubelet + containerd on this machine (root only; skipped with
          // the reason otherwise). Its own cluster (test/cluster/realnode-setup.ts); after the
          // other projects (groupOrder), so its CPU-heavy pods do not slow their timing-bound tests.
          name: 'realnode',
          include: ['test/integration/realnode/**/*.test.ts'],
          // PostgreSQL and Posit's Python clients too: deploy.test.ts runs `rsconnect deploy` end to end.
          // The e2e setup too: it picks the Chromium that processes-ui.test.ts drives (and builds dist/ when stale).
          globalSetup: ['test/cluster/realnode-setup.ts', 'test/integration/postgres-setup.ts', 'test/compat/python-setup.ts', 'test/e2e/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Builds dist/ once (when stale) and picks the Chromium; see the file.
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // One browser at a time: the machine has two cores.
          fileParallelism: false,
        },
      },
    ],
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
  },
});
