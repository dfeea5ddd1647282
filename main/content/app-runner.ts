// Apps and APIs on demand (DESIGN.md §1: intent in the database, the launcher makes it so): a
// request to content whose app is not running queues a run job for the bundle it asks for, and
// waits up to init_timeout for it to be ready; concurrent requests share one start. An app with
// no request and no open connection (WebSocket) for idle_timeout is stopped: its run job is
// cancelled "stopped: idle". Everything goes through the jobs table and the launcher's public
// API (kick, cancel), so the launcher stays the only writer of Kubernetes objects.
//
// Activity is counted in this process; with several instances behind one address, the idle
// check runs on the launcher's leader and sees only the requests that instance proxied (README).
import { jobTag, type AppMode } from '../../shared/content';
import { AppError } from '../../shared/errors';
import { isTerminal } from '../../shared/launcher-state';
import type { EventBus } from '../events';
import type { Launcher } from '../launcher/launcher';
import type { Logger } from '../log';
import type { ContentRecord } from '../store/content-repo';
import type { Store } from '../store/db';
import { jobsRepo, type JobRecord } from '../store/jobs-repo';
import { newJobKey, resourcesOf } from './deploy';

/** Connect's defaults (Scheduler.InitTimeout, Scheduler.IdleTimeout), in seconds. */
export const DEFAULT_INIT_TIMEOUT_SECONDS = 60;
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 120;

export interface AppRunnerDeps {
  store: Store;
  events: EventBus;
  log: Logger;
  launcher: Launcher | undefined;
  /** Server defaults for content whose settings leave them null (seconds). */
  defaults?: { initTimeout: number; idleTimeout: number };
  /** How often idle apps are looked for. */
  sweepEveryMs?: number;
  now?: () => number;
}

const LIVE = ['queued', 'creating', 'pending', 'running'];

export class AppRunner {
  private readonly starting = new Map<string, Promise<JobRecord>>();
  /** Ready run jobs by "<content id>:<bundle id>", dropped on any change to the content's jobs. */
  private readonly readyCache = new Map<string, JobRecord>();
  private readonly activity = new Map<number, { last: number; open: number }>();
  /** Run jobs being stopped for idleness: a request meanwhile starts a new one instead. */
  private readonly stopping = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private off: (() => void) | undefined;
  private sweeping = false;
  private readonly now: () => number;
  readonly defaults: { initTimeout: number; idleTimeout: number };

  constructor(private readonly deps: AppRunnerDeps) {
    this.now = deps.now ?? Date.now;
    this.defaults = deps.defaults ?? { initTimeout: DEFAULT_INIT_TIMEOUT_SECONDS, idleTimeout: DEFAULT_IDLE_TIMEOUT_SECONDS };
  }

  start(): void {
    if (this.timer) return;
    this.off = this.deps.events.on('jobs.changed', (p) => {
      // A cached job that changed (cancelled, lost, replaced) is looked up again on the next request.
      for (const [k, j] of this.readyCache) if (j.key === p.key) this.readyCache.delete(k);
    });
    this.timer = setInterval(() => void this.sweep().catch((e: Error) => this.deps.log.warn({ err: { message: e.message } }, 'app runner: idle check failed')), this.deps.sweepEveryMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.off?.();
  }

  /**
   * The ready run job serving `bundleId` of `content`: the one running, else the one queued or
   * starting (waited for), else a new one (queued now). Throws Unavailable (503) when it cannot be
   * had within init_timeout, with the job's own words when it failed.
   */
  async ready(content: ContentRecord, bundleId: number): Promise<JobRecord> {
    const key = `${content.id}:${bundleId}`;
    const cached = this.readyCache.get(key);
    if (cached) return cached;
    let p = this.starting.get(key);
    if (!p) {
      p = this.bringUp(content, bundleId).finally(() => this.starting.delete(key));
      this.starting.set(key, p);
    }
    const job = await p;
    this.readyCache.set(key, job);
    return job;
  }

  /** A request reached the app (or an open connection is still talking to it). */
  touch(jobId: number): void {
    const a = this.activity.get(jobId);
    if (a) a.last = this.now();
    else this.activity.set(jobId, { last: this.now(), open: 0 });
  }

  /** A long-lived connection (WebSocket) opened: the app is not idle until it closes. */
  opened(jobId: number): () => void {
    this.touch(jobId);
    const a = this.activity.get(jobId)!;
    a.open++;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      a.open--;
      a.last = this.now();
    };
  }

  /** Stop every ready app idle past its idle_timeout. Only where the launcher runs (the leader). */
  async sweep(): Promise<string[]> {
    const launcher = this.deps.launcher;
    if (!launcher || launcher.status.state === 'stopped' || this.sweeping) return [];
    this.sweeping = true;
    const stopped: string[] = [];
    try {
      const now = this.now();
      for (const job of await jobsRepo.active(this.deps.store.db)) {
        if (job.kind !== 'run' || job.state !== 'running' || !job.ready_time) continue;
        const idle = job.resources.idle_timeout ?? this.defaults.idleTimeout;
        if (idle <= 0) continue; // 0: never stopped for idleness
        const a = this.activity.get(job.id);
        if (a && a.open > 0) continue;
        const last = Math.max(a?.last ?? 0, Date.parse(job.ready_time));
        if (now - last < idle * 1000) continue;
        this.deps.log.info({ job: job.id, key: job.key, idleSeconds: Math.round((now - last) / 1000) }, 'app runner: stopping an idle app');
        // Forgotten before the cancel (its row says cancelled before the launcher's event about
        // it): a request in between starts a new run instead of reaching a Service being deleted.
        this.stopping.add(job.id);
        for (const [k, j] of this.readyCache) if (j.id === job.id) this.readyCache.delete(k);
        this.activity.delete(job.id);
        try {
          await launcher.cancel(job.id, `Offhost (stopped: idle, no request for ${idle} s)`);
        } finally {
          this.stopping.delete(job.id);
        }
        stopped.push(job.key);
      }
    } finally {
      this.sweeping = false;
    }
    return stopped;
  }

  private async bringUp(content: ContentRecord, bundleId: number): Promise<JobRecord> {
    const launcher = this.deps.launcher;
    if (!launcher) throw new AppError('Unavailable', `"${content.name}" is not running, and no cluster is configured to start it on (set OFFHOST_KUBECONFIG and OFFHOST_NAMESPACE).`);
    const db = this.deps.store.db;
    const jobs = (await jobsRepo.listForContent(db, content.id)).filter((j) => j.bundle_id === bundleId);
    let run = jobs.find((j) => j.kind === 'run' && LIVE.includes(j.state) && !this.stopping.has(j.id));
    if (run?.state === 'running' && run.ready_time) return run;
    if (!run) {
      const build = jobs.find((j) => j.kind === 'build' && (j.state === 'succeeded' || LIVE.includes(j.state)));
      if (!build) {
        const failed = jobs.find((j) => j.kind === 'build');
        throw new AppError(
          'Unavailable',
          failed
            ? `"${content.name}" cannot start: the build of bundle ${bundleId} ${failed.state}${failed.message ? ` (${failed.message})` : ''}; deploy again.`
            : `"${content.name}" cannot start: bundle ${bundleId} was never built; deploy it.`,
        );
      }
      const now = new Date(this.now()).toISOString();
      run = await jobsRepo.insertQueued(
        db,
        {
          key: newJobKey(),
          content_id: content.id,
          bundle_id: bundleId,
          task_id: null,
          kind: 'run',
          tag: jobTag('run', content.app_mode as AppMode),
          after_job_id: build.state === 'succeeded' ? null : build.id,
          environment_guid: build.environment_guid,
          image: build.image,
          resources: resourcesOf(content),
        },
        now,
      );
      this.deps.log.info({ content: content.guid, bundle: bundleId, job: run.id, key: run.key }, 'app runner: starting the app for a request');
      this.deps.events.emit('jobs.changed', { content_guid: content.guid, key: run.key, state: run.state });
      launcher.kick();
    }
    return this.waitReady(content, run);
  }

  private async waitReady(content: ContentRecord, job: JobRecord): Promise<JobRecord> {
    const timeout = job.resources.init_timeout ?? content.settings.init_timeout ?? this.defaults.initTimeout;
    const deadline = this.now() + timeout * 1000;
    let wake: () => void = () => {};
    const off = this.deps.events.on('jobs.changed', (p) => {
      if (p.key === job.key) wake();
    });
    try {
      for (;;) {
        const row = await jobsRepo.get(this.deps.store.db, job.id);
        if (!row) throw new AppError('Unavailable', `The run job of "${content.name}" is gone.`);
        if (row.state === 'running' && row.ready_time) return row;
        if (isTerminal(row.state))
          throw new AppError('Unavailable', `"${content.name}" did not start: its run job ${row.key} ${row.state}${row.reason ? ` (${row.reason})` : ''}${row.message ? `: ${row.message}` : '.'}`);
        const left = deadline - this.now();
        if (left <= 0)
          throw new AppError(
            'Unavailable',
            `"${content.name}" did not become ready within ${timeout} s (init_timeout); its run job ${row.key} is ${row.state}${row.message ? ` (${row.message})` : ''}. Try again in a moment.`,
          );
        // Woken by the job's change, or every second anyway (a change on another instance).
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(1000, left));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      off();
    }
  }
}
