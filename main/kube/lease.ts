// One leader among several Offhost instances on one database: a coordination.k8s.io Lease in the
// execution namespace, taken and renewed with optimistic concurrency (resourceVersion), as
// client-go's leader election does. Only the holder runs the launcher; the others serve the UI
// and API, and take over once the holder has not renewed for the lease duration.
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { KubeConnection } from './config';
import { describeError, statusOf } from './errors';
import type { Logger } from '../log';

export interface LeaseOptions {
  name: string;
  /** How long a holder that stopped renewing keeps the lease. */
  durationSeconds: number;
  /** How often the holder renews and the others try. */
  retryMs: number;
}

export const DEFAULT_LEASE: LeaseOptions = { name: 'offhost-launcher', durationSeconds: 15, retryMs: 2000 };

export interface LeaseDeps {
  connect: () => KubeConnection;
  log: Logger;
  onLeading: () => void;
  /** Called when leadership is lost or given up; must stop the leader's work. */
  onStopped: () => Promise<void>;
  identity?: string;
  options?: Partial<LeaseOptions>;
}

export class LeaderElector {
  readonly identity: string;
  private readonly opts: LeaseOptions;
  private stopped = true;
  private leading = false;
  /** The last failure said in the log ('' after a success). */
  private problem = '';
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly deps: LeaseDeps) {
    this.identity = deps.identity ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.opts = { ...DEFAULT_LEASE, ...deps.options };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = () => {
      this.running = this.tryOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.retryMs);
      });
    };
    tick();
  }

  /** Stop trying; a leader stops its work and gives the lease up so another takes over at once. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.leading) {
      this.leading = false;
      await this.deps.onStopped();
      await this.release().catch(() => {});
    }
  }

  private async tryOnce(): Promise<void> {
    try {
      const ok = await this.acquireOrRenew();
      if (ok) this.lastRenew = Date.now();
      if (ok && !this.leading && !this.stopped) {
        this.leading = true;
        this.deps.log.info({ identity: this.identity, lease: this.opts.name }, 'leader: this instance runs the launcher');
        this.deps.onLeading();
      }
      if (!ok && this.leading) await this.lose('another instance holds the lease');
      this.problem = '';
    } catch (e) {
      // Said once per distinct problem (not every retry): an instance that may not use the Lease
      // (a Role without leases get/create/update) never runs the launcher, and must say why.
      const problem = describeError(e);
      if (problem !== this.problem) {
        this.problem = problem;
        this.deps.log.warn({ identity: this.identity, lease: this.opts.name }, `leader: cannot take or renew the lease: ${problem}; retrying every ${this.opts.retryMs / 1000} s`);
      }
      // A leader that cannot renew for the lease duration must assume another took over.
      if (this.leading && Date.now() - this.lastRenew > this.opts.durationSeconds * 1000) await this.lose(`cannot renew the lease: ${problem}`);
    }
  }

  private async lose(why: string): Promise<void> {
    this.leading = false;
    this.deps.log.warn({ identity: this.identity, lease: this.opts.name }, `leader: no longer leading (${why}); the launcher stops here`);
    await this.deps.onStopped();
  }

  private async acquireOrRenew(): Promise<boolean> {
    const conn = this.deps.connect();
    const api = conn.kc.makeApiClient(k8s.CoordinationV1Api);
    const namespace = conn.namespace;
    const now = new k8s.V1MicroTime(Date.now());
    let lease: k8s.V1Lease;
    try {
      lease = await api.readNamespacedLease({ name: this.opts.name, namespace });
    } catch (e) {
      if (statusOf(e) !== 404) throw e;
      try {
        await api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name: this.opts.name, namespace, labels: { 'app.kubernetes.io/managed-by': 'offhost' } },
            spec: { holderIdentity: this.identity, leaseDurationSeconds: this.opts.durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false; // another won the race
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const mine = spec.holderIdentity === this.identity;
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const expired = !spec.holderIdentity || renewed + (spec.leaseDurationSeconds ?? this.opts.durationSeconds) * 1000 < Date.now();
    if (!mine && !expired) return false;
    try {
      await api.replaceNamespacedLease({
        name: this.opts.name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: this.identity,
            leaseDurationSeconds: this.opts.durationSeconds,
            renewTime: now,
            ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
          },
        },
      });
      return true;
    } catch (e) {
      if (statusOf(e) === 409) return false; // someone else wrote it first
      throw e;
    }
  }

  /** Give the lease up: no holder, so the next instance takes it on its next try. */
  private async release(): Promise<void> {
    const conn = this.deps.connect();
    const api = conn.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await api.readNamespacedLease({ name: this.opts.name, namespace: conn.namespace });
    if (lease.spec?.holderIdentity !== this.identity) return;
    await api.replaceNamespacedLease({ name: this.opts.name, namespace: conn.namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined } } });
  }
}
