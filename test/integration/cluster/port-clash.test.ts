/**
 * `cluster:up` picks free ports, but cannot hold them until each component binds its own: another
 * process may take one in between. Here another process (this test) takes every picked port at
 * that moment; each component must notice, move to a new port and come up anyway.
 * A second, small cluster in its own state directory: the shared one is left alone.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings, PORT_NAMES, type Ports, type Settings } from '../../cluster/config.js';
import { down, readState, status, up } from '../../cluster/controlplane.js';
import { isLocalCluster } from '../../cluster/kube.js';
import { listenersOf } from '../../cluster/procnet.js';

describe.skipIf(!isLocalCluster())('cluster:up with its picked ports taken', () => {
  let stateDir = '';
  let settings: Settings;
  const squatters: net.Server[] = [];
  beforeAll(() => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-port-clash-'));
    settings = { ...loadSettings(), stateDir, nodes: 1, ports: {}, skipBuild: true };
  });
  afterAll(async () => {
    if (!stateDir) return;
    await down(settings, { log: () => {} });
    await Promise.all(squatters.map((s) => new Promise((r) => s.close(r))));
    fs.rmSync(stateDir, { recursive: true, force: true });
  }, 60_000);

  it('moves each component to a new port and starts', { timeout: 240_000 }, async () => {
    const lines: string[] = [];
    let taken: Ports | undefined;
    const state = await up(settings, {
      log: (m) => lines.push(m),
      afterPortsPicked: async (ports) => {
        taken = ports;
        for (const port of Object.values(ports)) {
          // Hangs up at once: health checks that reach it fail fast, and close() does not wait.
          const s = net.createServer((sock) => sock.destroy());
          await new Promise<void>((resolve, reject) => s.once('error', reject).listen(port, '127.0.0.1', resolve));
          squatters.push(s);
        }
      },
    });
    expect(taken).toBeDefined();
    const log = lines.join('\n');
    for (const name of PORT_NAMES) {
      expect(state.ports[name], `${name} moved off the taken port ${taken![name]}`).not.toBe(taken![name]);
    }
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'metrics-server']) {
      expect(log).toMatch(new RegExp(`${c} could not bind .*another process holds it; starting ${c} again on`));
    }
    // Each component listens on its new port itself, and the whole cluster is healthy.
    const own = Object.values(state.pids).flatMap((pid) => listenersOf(pid).map((l) => l.port));
    for (const name of PORT_NAMES) expect(own, `someone of ours listens on ${name}`).toContain(state.ports[name]);
    const report = await status(settings);
    expect(report.problems).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(readState(stateDir)?.server).toBe(`https://127.0.0.1:${state.ports.apiserver}`);
    const kubeconfig = JSON.parse(fs.readFileSync(path.join(stateDir, 'kubeconfig'), 'utf8')) as { clusters: { cluster: { server: string } }[] };
    expect(kubeconfig.clusters[0]!.cluster.server).toBe(`https://127.0.0.1:${state.ports.apiserver}`);
  });
});
