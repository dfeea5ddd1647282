/**
 * Helpers for tests that talk to the test cluster (the local control plane started by
 * test/cluster/global-setup.ts, or any cluster named by OFFHOST_TEST_KUBECONFIG, e.g. kind).
 *
 *   import { kube, useTestNamespace } from '../../cluster/kube.js';
 *
 *   const ns = useTestNamespace('launcher');      // own namespace per test file
 *   it('…', async () => {
 *     const { core, batch } = kube();
 *     await batch.createNamespacedJob({ namespace: ns.name, body: job });
 *   });
 *
 * Everything here uses @kubernetes/client-node 1.4.x: API methods take one object parameter
 * (`core.listNamespacedPod({ namespace })`) and throw `ApiException` (with `.code`, `.body`).
 */
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';

import type { ClusterFlavor } from './provided-context.js';

export type { ClusterFlavor };

/** The kubeconfig path provided by the global setup. */
export function kubeconfigPath(): string {
  return inject('kubeconfigPath');
}

/** True on the local KWOK control plane, where pods are simulated (use with it.skipIf). */
export function isLocalCluster(): boolean {
  return inject('clusterFlavor') === 'local';
}

/** A KubeConfig loaded from the test cluster's kubeconfig (read fresh on every call). */
export function loadKubeConfig(file: string = kubeconfigPath()): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(file);
  return kc;
}

export interface KubeClients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
  apps: k8s.AppsV1Api;
  rbac: k8s.RbacAuthorizationV1Api;
  auth: k8s.AuthorizationV1Api;
  objects: k8s.KubernetesObjectApi;
  metrics: k8s.Metrics;
  watch: k8s.Watch;
}

/** API clients for a KubeConfig (default: the test cluster's admin). */
export function kube(kc: k8s.KubeConfig = loadKubeConfig()): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    auth: kc.makeApiClient(k8s.AuthorizationV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
    metrics: new k8s.Metrics(kc),
    watch: new k8s.Watch(kc),
  };
}

/**
 * A KubeConfig for the same cluster that authenticates with a bearer token (for example a
 * ServiceAccount token from the TokenRequest API) instead of the admin certificate.
 */
export function kubeConfigWithToken(token: string, base: k8s.KubeConfig = loadKubeConfig()): k8s.KubeConfig {
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'token-user', token }],
    contexts: [{ name: 'token', cluster: cluster.name, user: 'token-user' }],
    currentContext: 'token',
  });
  return kc;
}

/** The HTTP status of a failed client-node call (ApiException.code), or undefined. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof k8s.ApiException ? err.code : undefined;
}

/** The apiserver's message from a failed call (the Status object's `message`). */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof k8s.ApiException) {
    const body: unknown = err.body;
    if (typeof body === 'string') {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        return body;
      }
    }
    if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}

/** Polls `fn` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  { timeoutMs = 30_000, intervalMs = 250, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastErr ? `: ${apiErrorMessage(lastErr)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface WatchedEvent<T> {
  type: string;
  object: T;
}

/**
 * Watches `path` (e.g. `/api/v1/namespaces/ns/pods`) and resolves with every event seen once
 * `until` returns true for an event. Rejects on timeout or if the watch fails.
 * The watch is established before `start` is called, so nothing done in `start` is missed.
 */
export async function watchUntil<T = k8s.KubernetesObject>(
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  until: (ev: WatchedEvent<T>, seen: WatchedEvent<T>[]) => boolean,
  { timeoutMs = 60_000, start, kc = loadKubeConfig() }: { timeoutMs?: number; start?: () => Promise<unknown>; kc?: k8s.KubeConfig } = {},
): Promise<WatchedEvent<T>[]> {
  const seen: WatchedEvent<T>[] = [];
  let abort: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settle!: { resolve: (v: WatchedEvent<T>[]) => void; reject: (e: Error) => void };
  const done = new Promise<WatchedEvent<T>[]>((resolve, reject) => (settle = { resolve, reject }));
  let finished = false;
  const finish = (err?: Error) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    abort?.abort();
    if (err) settle.reject(err);
    else settle.resolve(seen);
  };
  timer = setTimeout(
    () => finish(new Error(`watch ${path}: timed out after ${timeoutMs}ms; saw ${seen.map((e) => e.type).join(', ') || 'nothing'}`)),
    timeoutMs,
  );
  abort = await new k8s.Watch(kc).watch(
    path,
    query,
    (type, object: T) => {
      if (finished) return;
      const ev = { type, object };
      seen.push(ev);
      try {
        if (until(ev, seen)) finish();
      } catch (err) {
        finish(err as Error);
      }
    },
    (err: unknown) => {
      if (!finished) finish(new Error(`watch ${path} ended before the condition was met: ${err ? String(err) : 'closed'}`));
    },
  );
  if (finished) abort.abort();
  if (start) {
    try {
      await start();
    } catch (err) {
      finish(err as Error);
    }
  }
  return done;
}

export interface TestNamespace {
  /** Set in beforeAll; read it inside tests and hooks, not at module load. */
  readonly name: string;
}

/**
 * Gives the calling test file its own namespace: created in beforeAll (with a random suffix, and
 * after its `default` ServiceAccount exists, so pods are admitted at once), deleted in afterAll.
 * Labelled `offhost.dev/test=true` so leftovers are easy to find:
 * `kubectl delete ns -l offhost.dev/test=true`.
 */
export function useTestNamespace(prefix = 'test'): TestNamespace {
  let name = '';
  const ns: TestNamespace = {
    get name() {
      if (!name) throw new Error('the test namespace is created in beforeAll; read .name inside a test or hook');
      return name;
    },
  };
  beforeAll(async () => {
    const { core } = kube();
    const base = prefix.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40).replace(/-+$/, '');
    const candidate = `${base}-${Math.random().toString(36).slice(2, 8)}`;
    await core.createNamespace({
      body: { metadata: { name: candidate, labels: { 'offhost.dev/test': 'true' } } },
    });
    name = candidate;
    await eventually(
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: candidate });
        return true;
      },
      { timeoutMs: 30_000, what: `ServiceAccount ${candidate}/default` },
    );
  }, 60_000);
  afterAll(async () => {
    if (!name) return;
    const { core } = kube();
    try {
      await core.deleteNamespace({ name });
    } catch (err) {
      if (apiErrorCode(err) !== 404) throw err;
    }
  }, 60_000);
  return ns;
}
