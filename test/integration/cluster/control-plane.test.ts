/**
 * The local control plane itself: every component listens on 127.0.0.1 only, TLS is required,
 * the binaries are the pinned versions, and the fake nodes have the configured capacity.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { binDir, CLUSTER_DIR, loadSettings } from '../../cluster/config.js';
import { readState } from '../../cluster/controlplane.js';
import { isLocalCluster, kube, kubeconfigPath } from '../../cluster/kube.js';
import { listenersOf } from '../../cluster/procnet.js';

const run = promisify(execFile);

function pinned(): Record<string, string> {
  const text = fs.readFileSync(path.join(CLUSTER_DIR, 'versions.env'), 'utf8');
  return Object.fromEntries([...text.matchAll(/^([A-Z0-9_]+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

function get(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ...opts, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe.skipIf(!isLocalCluster())('local control plane', () => {
  it('listens on 127.0.0.1 only, on exactly the ports in state.json', () => {
    const state = readState(loadSettings().stateDir);
    expect(state).not.toBeNull();
    const seen = new Set<number>();
    for (const [component, pid] of Object.entries(state!.pids)) {
      const listeners = listenersOf(pid);
      expect(listeners.length, `${component} listens somewhere`).toBeGreaterThan(0);
      for (const l of listeners) {
        expect(l.address, `${component} on ${l.address}:${l.port}`).toBe('127.0.0.1');
        seen.add(l.port);
      }
    }
    expect([...seen].sort()).toEqual(Object.values(state!.ports).sort());
  });

  it('requires TLS and a trusted client for the API', async () => {
    const state = readState(loadSettings().stateDir)!;
    const ca = fs.readFileSync(path.join(state.stateDir, 'pki', 'ca.crt'));
    // An untrusted server certificate is refused by a client that does not know our CA…
    await expect(get(`${state.server}/version`)).rejects.toThrow(/certificate/i);
    // …and an anonymous client is authenticated as system:anonymous, which may not list pods.
    const anonymous = await get(`${state.server}/api/v1/pods`, { ca });
    expect(anonymous.status).toBe(403);
    expect(anonymous.body).toContain('system:anonymous');
  });

  it('runs the pinned Kubernetes version, and the controller-manager creates ServiceAccounts', async () => {
    const { stdout } = await run(path.join(binDir(), 'kubectl'), ['--kubeconfig', kubeconfigPath(), 'version', '-o', 'json']);
    const parsed = JSON.parse(stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(parsed.serverVersion.gitVersion).toBe(pinned().K8S_VERSION);
    expect(parsed.clientVersion.gitVersion).toBe(pinned().K8S_VERSION);
    const sa = await kube().core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
    expect(sa.metadata?.name).toBe('default');
  });

  it('creates fake nodes with the configured capacity', async () => {
    const state = readState(loadSettings().stateDir)!;
    const { core } = kube();
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    expect(nodes.items).toHaveLength(state.settings.nodes);
    for (const n of nodes.items) {
      expect(n.status?.capacity?.cpu).toBe(state.settings.nodeCpu);
      expect(n.status?.capacity?.memory).toBe(state.settings.nodeMemory);
      expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(n.status?.nodeInfo?.kubeletVersion).toMatch(/^kwok-/);
    }
  });
});

describe('built tools', () => {
  const v = pinned();
  const bin = binDir();
  const version = async (tool: string, ...args: string[]) => (await run(path.join(bin, tool), args)).stdout;

  it.each([
    ['kube-apiserver', ['--version'], () => `Kubernetes ${v.K8S_VERSION}`],
    ['kube-controller-manager', ['--version'], () => `Kubernetes ${v.K8S_VERSION}`],
    ['kube-scheduler', ['--version'], () => `Kubernetes ${v.K8S_VERSION}`],
    ['etcd', ['--version'], () => `etcd Version: ${v.ETCD_VERSION!.slice(1)}`],
    ['helm', ['version', '--short'], () => `${v.HELM_VERSION}`],
    ['metrics-server', ['--version'], () => `${v.METRICS_SERVER_VERSION}`],
  ] as const)('%s reports the pinned version', async (tool, args, expected) => {
    if (!fs.existsSync(path.join(bin, tool))) throw new Error(`${tool} is not built: npm run cluster:build`);
    expect(await version(tool, ...args)).toContain(expected());
  });

  it('kwok reports the pinned version', async () => {
    const out = await version('kwok', '--version').catch((e: { stdout?: string; stderr?: string }) => `${e.stdout}${e.stderr}`);
    expect(out).toContain(v.KWOK_VERSION!.slice(1));
  });
});
