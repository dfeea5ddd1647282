// LimitRangeSync's lifecycle against servers that misbehave (no cluster needed): a cluster that
// accepts connections and never answers must not hold up stop(), and start() never waits for it.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../main/events';
import { loadKube } from '../../main/kube/config';
import { silentLogger } from '../../main/log';
import { LimitRangeSync } from '../../main/quotas/limit-range';
import { DEFAULT_QUOTAS } from '../../shared/quota';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-lrsync-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfigFor(port: number): string {
  const file = path.join(dir, `kc-${port}`);
  fs.writeFileSync(
    file,
    `apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: jobs\n`,
  );
  return file;
}

describe('LimitRangeSync lifecycle', () => {
  it('a cluster that never answers: start returns at once, stop within its grace period', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s)); // accepts, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const file = kubeconfigFor(port);
      const sync = new LimitRangeSync({
        connect: () => loadKube({ source: { kind: 'files', files: [file], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: null }),
        quotas: async () => DEFAULT_QUOTAS,
        events: new EventBus(),
        log: silentLogger,
      });
      const t0 = Date.now();
      sync.start();
      expect(Date.now() - t0).toBeLessThan(100);
      // The request is in flight and hangs.
      await new Promise((r) => setTimeout(r, 300));
      expect(sockets.length).toBeGreaterThan(0);
      expect(sync.status).toMatchObject({ state: 'starting', namespace: 'jobs' });
      const t1 = Date.now();
      await sync.stop();
      const took = Date.now() - t1;
      expect(took).toBeLessThan(3000);
      expect(took).toBeGreaterThanOrEqual(1900); // it did wait for the request, up to the grace
      expect(sync.status.state).toBe('stopped');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('stop() during the backoff returns at once', async () => {
    const sync = new LimitRangeSync({
      connect: () => {
        throw new Error('no kubeconfig yet');
      },
      quotas: async () => DEFAULT_QUOTAS,
      events: new EventBus(),
      log: silentLogger,
      backoffMs: { initial: 60_000, max: 60_000 },
    });
    sync.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(sync.status).toMatchObject({ state: 'retrying', error: 'no kubeconfig yet' });
    const t0 = Date.now();
    await sync.stop();
    expect(Date.now() - t0).toBeLessThan(200);
  });
});
