/**
 * `cluster:down` stops everything (no process, no listening port) and `cluster:up` afterwards
 * starts a fresh cluster on the very same ports (no stale state, no port clash).
 *
 * This restarts the shared test cluster, so the `cluster` vitest project must run its files one
 * at a time (fileParallelism: false); every other test file loads the kubeconfig afresh and so
 * works against the restarted cluster.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { CLUSTER_DIR, loadSettings, PORT_NAMES } from '../../cluster/config.js';
import { portInUse, readState } from '../../cluster/controlplane.js';
import { isLocalCluster, kube } from '../../cluster/kube.js';
import { allListeners } from '../../cluster/procnet.js';

const REPO = path.resolve(CLUSTER_DIR, '..', '..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const CLI = path.join(CLUSTER_DIR, 'cli.ts');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, [CLI, ...args], { cwd: REPO, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is dead for our purposes (its sockets are closed)
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(!isLocalCluster())('cluster:down then cluster:up', () => {
  it('leaves nothing behind and comes back fresh on the same ports', { timeout: 300_000 }, async () => {
    const settings = loadSettings();
    const before = readState(settings.stateDir);
    expect(before, 'state.json of the running cluster').not.toBeNull();
    const ports = before!.ports;
    const pids = Object.values(before!.pids);
    expect(pids).toHaveLength(6);

    // something that must not survive the restart
    const marker = `restart-marker-${Date.now().toString(36)}`;
    await kube().core.createNamespace({ body: { metadata: { name: marker, labels: { 'offhost.dev/test': 'true' } } } });

    const stopped = await cli('down');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain('kube-apiserver');
    for (const pid of pids) expect(alive(pid), `pid ${pid} still alive`).toBe(false);
    for (const name of PORT_NAMES) expect(await portInUse(ports[name]), `port ${name}=${ports[name]}`).toBe(false);
    const listening = new Set(allListeners().map((l) => l.port));
    for (const name of PORT_NAMES) expect(listening.has(ports[name])).toBe(false);
    expect(readState(settings.stateDir)).toBeNull();

    const st = await cli('status');
    expect(st.code).toBe(3); // 3 = down
    expect(st.stdout).toContain('cluster: down');

    const portSpec = PORT_NAMES.map((n) => `${n}=${ports[n]}`).join(',');
    const started = await cli('up', '--quiet', `--ports=${portSpec}`);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain('cluster is up');

    const after = readState(settings.stateDir);
    expect(after?.ports).toEqual(ports);
    for (const pid of Object.values(after!.pids)) expect(pids).not.toContain(pid);

    const healthy = await cli('status');
    expect(healthy.code, healthy.stdout).toBe(0);
    expect(healthy.stdout).toContain('cluster: healthy');

    const { core } = kube(); // reads the rewritten kubeconfig
    const namespaces = await core.listNamespace();
    const names = namespaces.items.map((n) => n.metadata?.name);
    expect(names).toContain('kube-system');
    expect(names).not.toContain(marker); // fresh etcd
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    expect(nodes.items.map((n) => n.metadata?.name).sort()).toEqual([...after!.nodeNames].sort());
  });
});
