// The quotas mirrored into the execution namespace as a LimitRange, so the cluster itself holds
// every pod there to the same bounds (a guard for anything that reaches the namespace without us).
//
// limitRangeManifest() is pure. LimitRangeSync keeps the object equal to it: it lists and watches
// that one LimitRange (no polling), and on every event, on every quotas.changed and after every
// re-list it reads the quotas from the database and creates, replaces or leaves the object. Reading
// the database each time (instead of remembering) lets several instances share one namespace
// without undoing each other's saves. Nothing here blocks start-up: an unreachable cluster, a
// missing namespace or a bad kubeconfig is logged and retried with backoff.
import * as k8s from '@kubernetes/client-node';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../../shared/quantity';
import type { LimitRangeMirrorStatus, Quotas } from '../../shared/quota';
import type { EventBus } from '../events';
import type { KubeConnection } from '../kube/config';
import { describeError, statusOf } from '../kube/errors';
import { Reconnector, type Backoff } from '../kube/reconnect';
import type { Logger } from '../log';

export const LIMIT_RANGE_NAME = 'offhost-quotas';
/** How long stop() waits for a request in flight before returning anyway. */
const STOP_GRACE_MS = 2000;
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'offhost', 'app.kubernetes.io/name': 'offhost-quotas' } as const;
const NOTE = 'Mirrors the quotas set in Offhost (cpu/memory min, max and defaults); edits here are put back. Change the quotas in Offhost instead.';

type Amounts = { cpu?: string; memory?: string };

/**
 * The LimitRange for `quotas`. A LimitRange has one min and max per resource, for requests and
 * limits alike, so: min = the minimum requests (the quotas keep each request minimum at most its
 * limit minimum), max = the maximum limits (each request maximum is at most its limit maximum),
 * default = the default limits, defaultRequest = the default requests. The finer bounds (a request
 * maximum below the limit maximum, a limit minimum above the request minimum) are Offhost's own
 * checks. A minimum of 0 is left out (no minimum).
 */
export function limitRangeManifest(quotas: Quotas, namespace: string): k8s.V1LimitRange {
  const cpu = (cores: number) => formatCpu(Math.round(cores * 1000));
  const min: Amounts = {};
  if (quotas.cpu_request.min > 0) min.cpu = cpu(quotas.cpu_request.min);
  if (quotas.memory_request.min > 0) min.memory = formatMemory(quotas.memory_request.min);
  const item: k8s.V1LimitRangeItem = {
    type: 'Container',
    max: { cpu: cpu(quotas.cpu_limit.max), memory: formatMemory(quotas.memory_limit.max) },
    _default: { cpu: cpu(quotas.cpu_limit.default), memory: formatMemory(quotas.memory_limit.default) },
    defaultRequest: { cpu: cpu(quotas.cpu_request.default), memory: formatMemory(quotas.memory_request.default) },
    ...(Object.keys(min).length ? { min } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: { name: LIMIT_RANGE_NAME, namespace, labels: { ...MANAGED_BY }, annotations: { 'offhost.dev/note': NOTE } },
    spec: { limits: [item] },
  };
}

/** Whether `actual` (as read back) says the same as `wanted`: same items and amounts (compared as quantities), our labels. */
export function limitRangeMatches(actual: k8s.V1LimitRange | undefined, wanted: k8s.V1LimitRange): boolean {
  if (!actual) return false;
  for (const [k, v] of Object.entries(wanted.metadata?.labels ?? {})) if (actual.metadata?.labels?.[k] !== v) return false;
  const a = actual.spec?.limits ?? [];
  const w = wanted.spec?.limits ?? [];
  if (a.length !== w.length) return false;
  return w.every((wi, i) => {
    const ai = a[i]!;
    return (
      ai.type === wi.type &&
      sameAmounts(ai.min, wi.min) &&
      sameAmounts(ai.max, wi.max) &&
      sameAmounts(ai._default, wi._default) &&
      sameAmounts(ai.defaultRequest, wi.defaultRequest) &&
      sameAmounts(ai.maxLimitRequestRatio, wi.maxLimitRequestRatio)
    );
  });
}

function sameAmounts(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) => {
    try {
      // "1" and "1000m", "1Gi" and "1073741824" are the same amount.
      const parse = k === 'cpu' ? parseCpu : parseMemory;
      return parse(a![k]!) === parse(b![k]!);
    } catch {
      return a![k] === b![k];
    }
  });
}

export interface LimitRangeSyncDeps {
  /** Loads the configured cluster (may throw: it is retried). */
  connect: () => KubeConnection;
  /** The quotas in force, read fresh each time. */
  quotas: () => Promise<Quotas>;
  events: EventBus;
  log: Logger;
  /** First and longest wait between attempts after a failure (default 1 s, 60 s). */
  backoffMs?: Backoff;
}

export interface LimitRangeSyncStatus extends LimitRangeMirrorStatus {
  /** Creates and replaces made since start (each one is logged). */
  writes: number;
}

interface Session {
  api: k8s.CoreV1Api;
  namespace: string;
  abort: AbortController | undefined;
  /** Ends the session: resolved (re-list now) or with an error (back off, then re-list). */
  end(err?: Error): void;
}

/** Keeps the LimitRange equal to the quotas while started; see the file comment. */
export class LimitRangeSync {
  private readonly deps: LimitRangeSyncDeps;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private reconnector: Reconnector | undefined;
  private session: Session | undefined;
  private kicked = false;
  private draining: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  readonly status: LimitRangeSyncStatus = { state: 'stopped', namespace: null, error: null, writes: 0 };

  constructor(deps: LimitRangeSyncDeps) {
    this.deps = deps;
  }

  /** Returns at once; the work goes on in the background until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.status.state = 'starting';
    this.unsubscribe = this.deps.events.on('quotas.changed', () => this.kick());
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    this.session?.end(new Error('stopped'));
    this.reconnector?.stop();
    // A request to a cluster that does not answer cannot be cancelled here; do not let it hold up
    // shutdown. The loop ends on its own when it returns, and writes nothing once stopped.
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([Promise.all([this.loop, this.draining]), grace]);
    this.status.state = 'stopped';
  }

  private run(): Promise<void> {
    this.reconnector = new Reconnector(this.deps.backoffMs ?? { initial: 1000, max: 60_000 });
    return this.reconnector.run(
      (healthy) => {
        // The kubeconfig is read on each attempt, so fixing it needs no restart.
        const conn = this.deps.connect();
        this.status.namespace = conn.namespace;
        return this.listAndWatch(conn, healthy);
      },
      (e, retryInMs) => {
        const message = describeError(e);
        this.status.state = 'retrying';
        this.status.error = message;
        this.deps.log.warn({ namespace: this.status.namespace, retryInMs }, `cannot keep the quotas LimitRange in sync: ${message}`);
      },
    );
  }

  /** List, reconcile, then watch from the list's version until the watch ends (resolve: re-list) or fails (reject). */
  private async listAndWatch(conn: KubeConnection, healthy: () => void): Promise<void> {
    const api = conn.kc.makeApiClient(k8s.CoreV1Api);
    const namespace = conn.namespace;
    const fieldSelector = `metadata.name=${LIMIT_RANGE_NAME}`;
    const list = await api.listNamespacedLimitRange({ namespace, fieldSelector });
    this.kicked = false;
    await this.reconcile(api, namespace);
    healthy();
    if (this.status.state !== 'in-sync') this.deps.log.info({ namespace, server: conn.server }, 'quotas LimitRange in sync; watching it');
    this.status.state = 'in-sync';
    this.status.error = null;
    if (this.stopped) return;

    await new Promise<void>((resolve, reject) => {
      let ended = false;
      const session: Session = {
        api,
        namespace,
        abort: undefined,
        end: (err) => {
          if (ended) return;
          ended = true;
          if (this.session === session) this.session = undefined;
          session.abort?.abort();
          if (err) reject(err);
          else resolve();
        },
      };
      this.session = session;
      new k8s.Watch(conn.kc)
        .watch(
          `/api/v1/namespaces/${namespace}/limitranges`,
          { fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
          (type) => {
            if (type === 'BOOKMARK') return;
            // 410 Gone and other watch errors: start again from a fresh list.
            if (type === 'ERROR') session.end();
            // ADDED, MODIFIED, DELETED: someone (maybe we) wrote it; compare and put it back if needed.
            else this.kick();
          },
          (err: unknown) => session.end(err ? new Error(`the watch failed: ${describeError(err)}`) : undefined),
        )
        .then(
          (abort) => {
            session.abort = abort;
            if (ended) abort.abort();
          },
          (e: unknown) => session.end(new Error(`cannot watch: ${describeError(e)}`)),
        );
      // A quotas.changed that came while (re)connecting.
      if (this.kicked) this.kick();
    });
  }

  /** Ask for a reconcile: one at a time, and once more if asked again meanwhile. A failure ends the session (backoff). */
  private kick(): void {
    this.kicked = true;
    const session = this.session;
    if (this.draining || !session || this.stopped) return;
    this.draining = (async () => {
      try {
        while (this.kicked && !this.stopped) {
          this.kicked = false;
          await this.reconcile(session.api, session.namespace);
        }
      } catch (e) {
        session.end(e instanceof Error ? e : new Error(String(e)));
      } finally {
        this.draining = undefined;
      }
    })();
  }

  /** Make the LimitRange match the quotas read now: create it, replace it, or leave it. */
  private async reconcile(api: k8s.CoreV1Api, namespace: string): Promise<void> {
    const wanted = limitRangeManifest(await this.deps.quotas(), namespace);
    for (let attempt = 0; ; attempt++) {
      let current: k8s.V1LimitRange | undefined;
      try {
        current = await api.readNamespacedLimitRange({ name: LIMIT_RANGE_NAME, namespace });
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
      }
      if (limitRangeMatches(current, wanted)) return;
      try {
        if (!current) await api.createNamespacedLimitRange({ namespace, body: wanted });
        else
          await api.replaceNamespacedLimitRange({
            name: LIMIT_RANGE_NAME,
            namespace,
            body: { ...wanted, metadata: { ...wanted.metadata, resourceVersion: current.metadata?.resourceVersion } },
          });
        this.status.writes++;
        this.deps.log.info({ namespace, limits: wanted.spec?.limits }, current ? 'quotas LimitRange put back to the quotas' : 'quotas LimitRange created');
        return;
      } catch (e) {
        // Someone wrote it between our read and write (409): read again, a few times.
        if (statusOf(e) !== 409 || attempt >= 4) throw e;
      }
    }
  }
}
