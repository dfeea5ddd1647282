/**
 * The quotas' LimitRange mirror against the real kube-apiserver: created when the core starts with
 * a cluster configured, updated after each quotas change, put back after someone edits or deletes
 * it, and really enforced by the apiserver's LimitRanger. A missing namespace or an unreachable
 * cluster never fails the start; several instances sharing a database do not fight.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../../main/config';
import { createCore, type Core } from '../../../main/core';
import { EventBus } from '../../../main/events';
import { loadKube, type KubeSettings } from '../../../main/kube/config';
import { LIMIT_RANGE_NAME, LimitRangeSync } from '../../../main/quotas/limit-range';
import { QuotaService } from '../../../main/quotas/service';
import { DEFAULT_QUOTAS, parseQuotas, type Quotas } from '../../../shared/quota';
import { apiErrorCode, apiErrorMessage, eventually, kube, kubeconfigPath, useTestNamespace } from '../../cluster/kube.js';

const ns = useTestNamespace('quotas');
const GiB = 1024 ** 3;

function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const settings = (namespace: string, file = kubeconfigPath()): KubeSettings => ({
  source: { kind: 'files', files: [file], from: 'OFFHOST_KUBECONFIG' },
  context: null,
  namespace,
});

async function readLimitRange(namespace: string): Promise<k8s.V1LimitRange | undefined> {
  try {
    return await kube().core.readNamespacedLimitRange({ name: LIMIT_RANGE_NAME, namespace });
  } catch (e) {
    if (apiErrorCode(e) === 404) return undefined;
    throw e;
  }
}

/** Resolves with the LimitRange once its (only) item satisfies `check`. */
function limitRangeWhere(namespace: string, check: (item: k8s.V1LimitRangeItem) => boolean, what: string) {
  return eventually(
    async () => {
      const lr = await readLimitRange(namespace);
      const item = lr?.spec?.limits?.[0];
      return item && lr.spec!.limits.length === 1 && check(item) ? lr : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50, what },
  );
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-quotas-cluster-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the quotas LimitRange on a real apiserver', () => {
  let core: Core;
  const logged = capturingLogger();

  beforeAll(async () => {
    const config = loadConfig({}, { dataDir: path.join(tmp, 'a'), environmentsFile: null, kube: settings(ns.name) });
    core = await createCore(config, logged.log, 'server');
  });
  afterAll(async () => {
    await core?.close();
  });

  it('is created when the core starts with a cluster configured, and the apiserver enforces it', async () => {
    const lr = await limitRangeWhere(ns.name, (i) => i.max?.cpu === '8', 'the LimitRange to be created');
    expect(lr.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('offhost');
    // quotas.get reports the mirror's state for the UI.
    await eventually(async () => (await core.quotas.view()).limit_range?.state === 'in-sync', { what: 'quotas.get to say in-sync' });
    expect((await core.quotas.view()).limit_range).toEqual({ namespace: ns.name, state: 'in-sync', error: null });
    expect(lr.spec!.limits[0]).toMatchObject({
      type: 'Container',
      min: { cpu: '10m', memory: '64Mi' },
      max: { cpu: '8', memory: '32Gi' },
      _default: { cpu: '1', memory: '1Gi' },
      defaultRequest: { cpu: '500m', memory: '512Mi' },
    });

    const { core: api } = kube();
    const pod = (name: string, resources?: k8s.V1ResourceRequirements): k8s.V1Pod => ({
      metadata: { name },
      spec: { containers: [{ name: 'main', image: 'registry.invalid/offhost/runner:test', ...(resources ? { resources } : {}) }] },
    });
    // A container that asks for nothing gets the defaults ...
    const plain = await api.createNamespacedPod({ namespace: ns.name, body: pod('defaults') });
    expect(plain.spec!.containers[0]!.resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    // ... and one above the maximum is refused by the apiserver itself.
    try {
      await api.createNamespacedPod({ namespace: ns.name, body: pod('too-big', { limits: { cpu: '16', memory: '1Gi' }, requests: { cpu: '1', memory: '1Gi' } }) });
      throw new Error('the apiserver admitted a pod above the maximum');
    } catch (e) {
      expect(apiErrorCode(e)).toBe(403);
      expect(apiErrorMessage(e)).toMatch(/maximum cpu usage per Container is 8, but limit is 16/);
    }
  });

  it('is updated after each quotas change (within a second)', async () => {
    const { version } = await core.quotas.get();
    const next: Quotas = parseQuotas({
      ...DEFAULT_QUOTAS,
      cpu_limit: { min: 0.1, default: 2, max: 3 },
      cpu_request: { min: 0.05, default: 1, max: 3 },
      memory_limit: { min: '256Mi', default: '2Gi', max: '6Gi' },
      memory_request: { min: 0, default: '1Gi', max: '6Gi' },
    });
    const t0 = Date.now();
    await core.quotas.update(next, version, 'test');
    const lr = await limitRangeWhere(ns.name, (i) => i.max?.cpu === '3', 'the LimitRange to follow the quotas');
    const ms = Date.now() - t0;
    expect(lr.spec!.limits[0]).toMatchObject({
      min: { cpu: '50m' }, // a memory minimum of 0 is left out
      max: { cpu: '3', memory: '6Gi' },
      _default: { cpu: '2', memory: '2Gi' },
      defaultRequest: { cpu: '1', memory: '1Gi' },
    });
    expect(lr.spec!.limits[0]!.min).not.toHaveProperty('memory');
    // Settled: what the apiserver stored matches what we want, so we do not keep rewriting it.
    await new Promise((r) => setTimeout(r, 700));
    expect((await readLimitRange(ns.name))!.metadata!.resourceVersion).toBe(lr.metadata!.resourceVersion);
    expect(ms).toBeLessThan(1000);
    console.log(`[quotas] LimitRange followed a quotas change in ${ms} ms`);

    // A second change, straight after.
    await core.quotas.update(parseQuotas({ ...next, cpu_request: { min: 0.05, default: 1, max: 2.5 }, cpu_limit: { min: 0.1, default: 2, max: 2.5 } }), version + 1, 'test');
    await limitRangeWhere(ns.name, (i) => i.max?.cpu === '2500m', 'the LimitRange to follow the second change');
  });

  it('is put back after someone edits it', async () => {
    const { core: api } = kube();
    const current = (await readLimitRange(ns.name))!;
    const edited = structuredClone(current);
    edited.spec!.limits[0]!.max = { cpu: '64', memory: '512Gi' };
    edited.spec!.limits[0]!.maxLimitRequestRatio = { cpu: '10' };
    const t0 = Date.now();
    const written = await api.replaceNamespacedLimitRange({ name: LIMIT_RANGE_NAME, namespace: ns.name, body: edited });
    const restored = await limitRangeWhere(
      ns.name,
      (i) => i.max?.cpu === '2500m' && i.maxLimitRequestRatio === undefined,
      'the edited LimitRange to be put back',
    );
    console.log(`[quotas] an edited LimitRange was put back in ${Date.now() - t0} ms`);
    expect(Number(restored.metadata!.resourceVersion)).toBeGreaterThan(Number(written.metadata!.resourceVersion));
    expect(restored.spec!.limits[0]!.max).toEqual({ cpu: '2500m', memory: '6Gi' });
  });

  it('is put back after someone deletes it', async () => {
    const { core: api } = kube();
    const before = (await readLimitRange(ns.name))!;
    const t0 = Date.now();
    await api.deleteNamespacedLimitRange({ name: LIMIT_RANGE_NAME, namespace: ns.name });
    const again = await eventually(
      async () => {
        const lr = await readLimitRange(ns.name);
        return lr && lr.metadata!.uid !== before.metadata!.uid ? lr : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, what: 'the deleted LimitRange to be created again' },
    );
    console.log(`[quotas] a deleted LimitRange was created again in ${Date.now() - t0} ms`);
    expect(again.spec!.limits[0]!.max).toEqual({ cpu: '2500m', memory: '6Gi' });
    expect(logged.lines.some((l) => l.msg === 'quotas LimitRange created')).toBe(true);
  });

  it('a second instance on the same database agrees instead of putting old values back', async () => {
    // Instance B shares the database but not the event bus: it learns of A's save only through the
    // LimitRange's watch event, and must read the new quotas rather than restore what it knew.
    const events = new EventBus();
    const b = new LimitRangeSync({ connect: () => loadKube(settings(ns.name)), quotas: () => core.quotas.current(), events, log: capturingLogger().log });
    b.start();
    try {
      await eventually(async () => b.status.state === 'in-sync', { what: 'instance B in sync' });
      const { version, quotas } = await core.quotas.get();
      await core.quotas.update(parseQuotas({ ...quotas, cpu_limit: { min: 0.1, default: 2, max: 2.75 } }), version, 'test');
      await limitRangeWhere(ns.name, (i) => i.max?.cpu === '2750m', 'the LimitRange to follow A');
      await new Promise((r) => setTimeout(r, 500));
      expect((await readLimitRange(ns.name))!.spec!.limits[0]!.max!.cpu).toBe('2750m');
      expect(b.status.writes).toBe(0);
    } finally {
      await b.stop();
    }
    expect(b.status.state).toBe('stopped');
  });
});

describe('when the cluster is not there yet', () => {
  it('a missing namespace is retried with backoff until it exists', async () => {
    const late = `${ns.name}-late`;
    const store = await createCore(loadConfig({}, { dataDir: path.join(tmp, 'late'), environmentsFile: null, kube: null }), capturingLogger().log, 'server');
    const { log, lines } = capturingLogger();
    const sync = new LimitRangeSync({
      connect: () => loadKube(settings(late)),
      quotas: () => store.quotas.current(),
      events: store.events,
      log,
      backoffMs: { initial: 100, max: 400 },
    });
    sync.start();
    const { core: api } = kube();
    try {
      await eventually(async () => lines.filter((l) => /cannot keep the quotas LimitRange in sync/.test(l.msg)).length >= 2, { what: 'two logged retries' });
      expect(sync.status.state).toBe('retrying');
      expect(sync.status.error).toMatch(/namespaces? "?.*-late"? not found|not found/);
      const delays = lines.filter((l) => l.retryInMs !== undefined).map((l) => l.retryInMs);
      expect(delays.slice(0, 3)).toEqual([100, 200, 400].slice(0, delays.slice(0, 3).length));
      await api.createNamespace({ body: { metadata: { name: late, labels: { 'offhost.dev/test': 'true' } } } });
      await limitRangeWhere(late, (i) => i.max?.cpu === '8', 'the LimitRange once the namespace exists');
      expect(sync.status.state).toBe('in-sync');
    } finally {
      await sync.stop();
      await store.close();
      await api.deleteNamespace({ name: late }).catch(() => undefined);
    }
  });

  it('an unreachable cluster or a bad kubeconfig never fails the start', async () => {
    const dead = path.join(tmp, 'dead.kubeconfig');
    fs.writeFileSync(
      dead,
      ['apiVersion: v1', 'kind: Config', 'current-context: dead', 'clusters:', '- name: dead', '  cluster:', '    server: https://127.0.0.1:1', '    insecure-skip-tls-verify: true',
        'users:', '- name: u', '  user:', '    token: t', 'contexts:', '- name: dead', '  context:', '    cluster: dead', '    user: u'].join('\n'),
    );
    for (const file of [dead, path.join(tmp, 'no-such.kubeconfig')]) {
      const { log, lines } = capturingLogger();
      const t0 = Date.now();
      const c = await createCore(loadConfig({}, { dataDir: path.join(tmp, `${path.basename(file)}-data`), environmentsFile: null, kube: settings('anything', file) }), log, 'server');
      expect(Date.now() - t0).toBeLessThan(5000);
      expect((await c.quotas.get()).version).toBe(0); // the core answers
      await eventually(async () => lines.some((l) => /cannot keep the quotas LimitRange in sync/.test(l.msg)), { what: 'a logged retry' });
      const mirror = (await c.quotas.view()).limit_range!;
      expect(mirror.state).toBe('retrying');
      expect(mirror.error).toMatch(file === dead ? /ECONNREFUSED|connect|fetch failed/i : /does not exist/);
      const t1 = Date.now();
      await c.close();
      expect(Date.now() - t1).toBeLessThan(2000); // stop() does not wait out the backoff
    }
  });
});
