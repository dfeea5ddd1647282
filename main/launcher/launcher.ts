// The launcher's runner (DESIGN.md §1, §3): it takes queued jobs from the database (at most the
// quotas' max_concurrent_jobs at a time), creates their Kubernetes objects, and follows their
// pods through ONE list-then-watch per namespace on our label selector — no polling. Every pod
// change goes through the pure state machine (shared/launcher-state.ts); the new state is written
// to the job row, announced as `jobs.changed`, and said in plain words in the deploy task.
//
// Restart safety: names come from the job id, so creating again what may exist is harmless (409);
// rows left in 'creating' by a crash are created again; reconciliation (at start and every few
// minutes) adopts live objects, marks rows whose objects vanished `lost`, and deletes our objects
// that have no row. Nothing here blocks start-up: no cluster, a bad kubeconfig or an unreachable
// apiserver is logged and retried with backoff.
import type { Writable } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { isTerminal, next, statusChanged, type JobStatus, type LauncherEvent } from '../../shared/launcher-state';
import { effectiveResources, type Quotas } from '../../shared/quota';
import type { TaskService } from '../content/tasks';
import type { EventBus } from '../events';
import type { KubeConnection } from '../kube/config';
import { describeError, statusOf } from '../kube/errors';
import { NO_PLACEMENT, type Placement } from '../kube/placement';
import { Reconnector, type Backoff } from '../kube/reconnect';
import { JOB_SELECTOR, KEY_ANNOTATION, LABELS, MAIN_CONTAINER, jobManifest, needsService, objectName, serviceManifest, type PodExecution } from '../kube/manifests';
import type { Logger } from '../log';
import { contentRepo } from '../store/content-repo';
import type { Store } from '../store/db';
import { jobStatus, jobsRepo, type JobRecord } from '../store/jobs-repo';
import { tasksRepo } from '../store/tasks-repo';
import { observeJob, observePod } from './observe';
import { TaskOutput } from './task-output';
import { NO_VOLUME_MESSAGE, prepareExecution, type ExecutionDeps } from './execution';
import { bundlesRepo } from '../store/bundles-repo';

const STOP_GRACE_MS = 2000;

export interface LauncherOptions {
  /** activeDeadlineSeconds for builds and renders (apps run until stopped). */
  deadlineSeconds: { build: number; render: number };
  ttlSecondsAfterFinished: number;
  reconcileEveryMs: number;
  /** The most of a pod's log kept in the store once the job ends (its beginning: task-output.ts counts lines from there). */
  logCapBytes: number;
  backoffMs: Backoff;
  /** How long after creating a Job to look once for why it has no pod yet. */
  podlessCheckMs: number;
  /** Node selector and tolerations for every pod (OFFHOST_JOB_NODE_SELECTOR / _TOLERATIONS). */
  placement: Placement;
  /** Queued rows read at a time (the queue is paged through until the free slots are used). */
  queuePage: number;
}

export const DEFAULT_LAUNCHER_OPTIONS: LauncherOptions = {
  deadlineSeconds: { build: 3600, render: 3600 },
  ttlSecondsAfterFinished: 600,
  reconcileEveryMs: 3 * 60_000,
  logCapBytes: 1024 * 1024,
  backoffMs: { initial: 1000, max: 60_000 },
  podlessCheckMs: 5000,
  placement: NO_PLACEMENT,
  queuePage: 500,
};

export interface LauncherDeps {
  store: Store;
  events: EventBus;
  tasks: TaskService;
  log: Logger;
  /** Loads the configured cluster (may throw: it is retried). */
  connect: () => KubeConnection;
  quotas: () => Promise<Quotas>;
  now?: () => string;
  options?: Partial<LauncherOptions>;
  /**
   * Test-only: extra pod annotations for a job (KWOK plays a pod's life from kwok.offhost.dev/*).
   * No configuration reaches it; only tests construct a Launcher with it.
   */
  testPodAnnotations?: (job: JobRecord) => Record<string, string> | undefined;
  /**
   * Test-only: the main container's command for a job, instead of containerCommand()'s (a real
   * node's test prints lines over time to follow). No configuration reaches it either.
   */
  testContainerCommand?: (job: JobRecord) => string[] | undefined;
  /**
   * What jobs run and see (main/launcher/execution.ts): the content volume, environments, package
   * sources. The core always gives it; only the launcher's lifecycle tests on KWOK leave it out
   * (their pods run nothing, so they need no bundle).
   */
  execution?: ExecutionDeps & { noVolumeMessage?: string };
}

export interface LauncherStatus {
  state: 'stopped' | 'starting' | 'watching' | 'retrying';
  namespace: string | null;
  error: string | null;
  /** Pod events handled since start. */
  podEvents: number;
  relists: number;
}

interface Session {
  conn: KubeConnection;
  core: k8s.CoreV1Api;
  batch: k8s.BatchV1Api;
  abort: AbortController | undefined;
  end(err?: Error): void;
}

export class Launcher {
  private readonly deps: LauncherDeps;
  private readonly opts: LauncherOptions;
  private readonly now: () => string;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private reconnector: Reconnector | undefined;
  private session: Session | undefined;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** One chain per job, so its events are applied in order. */
  private readonly chains = new Map<number, Promise<void>>();
  /** The pod last seen for each job (its name, for logs and Events). */
  private readonly pods = new Map<number, string>();
  /** Jobs whose delete we asked for: their pod's disappearance is expected. */
  private readonly deleting = new Set<number>();
  private readonly creating = new Set<number>();
  /** The last reason a job could not be created, said in its task (see sayWaiting). */
  private readonly waitingWords = new Map<number, string>();
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  readonly status: LauncherStatus = { state: 'stopped', namespace: null, error: null, podEvents: 0, relists: 0 };
  private readonly output: TaskOutput;

  constructor(deps: LauncherDeps) {
    this.deps = deps;
    this.opts = { ...DEFAULT_LAUNCHER_OPTIONS, ...deps.options };
    this.now = deps.now ?? (() => new Date().toISOString());
    this.output = new TaskOutput({ append: (taskId, lines) => this.deps.tasks.append(taskId, lines), warn: (what, e) => this.warn(what, e) });
  }

  /** Returns at once; the work goes on in the background until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.status.state = 'starting';
    // A deploy queued jobs; quotas may have raised the concurrency.
    const offs = [this.deps.events.on('content.changed', () => this.kick()), this.deps.events.on('quotas.changed', () => this.kick())];
    this.unsubscribe = () => offs.forEach((off) => off());
    // Reconcile every few minutes, and look at the queue then too, in case a kick was missed
    // (an event from another instance while the LISTEN connection was down).
    this.reconcileTimer = setInterval(() => {
      void this.reconcile().catch((e: unknown) => this.warn('reconciliation failed', e));
      this.kick();
    }, this.opts.reconcileEveryMs);
    this.reconcileTimer.unref();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.reconcileTimer);
    this.session?.end(new Error('stopped'));
    this.reconnector?.stop();
    this.output.stopAll();
    const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
    await Promise.race([Promise.all([this.loop, this.pumping, ...this.chains.values()]), grace]);
    this.status.state = 'stopped';
  }

  /** Look at the queue now (a deploy, a finished job, a quota change). */
  kick(): void {
    if (this.stopped || !this.session) return;
    this.pumpAgain = true;
    if (this.pumping) return;
    this.pumping = (async () => {
      try {
        while (this.pumpAgain && !this.stopped && this.session) {
          this.pumpAgain = false;
          await this.pump(this.session);
        }
      } catch (e) {
        this.warn('cannot start queued jobs', e);
      } finally {
        this.pumping = undefined;
      }
    })();
  }

  /**
   * Cancel a job: a queued one is marked at once; a live one is deleted from the cluster with
   * foreground propagation (pod and Service first, then the Job) and marked cancelled.
   */
  async cancel(jobId: number, by: string): Promise<JobRecord> {
    await this.apply(jobId, { type: 'cancel', at: this.now(), by });
    const job = await jobsRepo.get(this.deps.store.db, jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job;
  }

  // --- the watch ---------------------------------------------------------------------------------

  private run(): Promise<void> {
    this.reconnector = new Reconnector(this.opts.backoffMs);
    return this.reconnector.run(
      (healthy) => {
        const conn = this.deps.connect();
        this.status.namespace = conn.namespace;
        return this.listAndWatch(conn, healthy);
      },
      (e, retryInMs) => {
        this.status.state = 'retrying';
        this.status.error = describeError(e);
        this.deps.log.warn({ namespace: this.status.namespace, retryInMs }, `launcher: cannot watch the cluster: ${this.status.error}`);
      },
    );
  }

  /** List our pods, reconcile, then watch from the list's version until the watch ends or fails. */
  private async listAndWatch(conn: KubeConnection, healthy: () => void): Promise<void> {
    const core = conn.kc.makeApiClient(k8s.CoreV1Api);
    const batch = conn.kc.makeApiClient(k8s.BatchV1Api);
    const namespace = conn.namespace;
    const list = await core.listNamespacedPod({ namespace, labelSelector: JOB_SELECTOR });
    this.status.relists++;
    let resourceVersion = list.metadata?.resourceVersion;
    const session: Session = { conn, core, batch, abort: undefined, end: () => {} };
    this.session = session;
    for (const pod of list.items) this.onPod('ADDED', pod);
    await this.reconcileWith(session, list.items);
    healthy();
    if (this.status.state !== 'watching') this.deps.log.info({ namespace, server: conn.server }, 'launcher: watching our pods');
    this.status.state = 'watching';
    this.status.error = null;
    this.kick();
    if (this.stopped) return;

    await new Promise<void>((resolve, reject) => {
      let ended = false;
      session.end = (err) => {
        if (ended) return;
        ended = true;
        if (this.session === session) this.session = undefined;
        session.abort?.abort();
        if (err) reject(err);
        else resolve();
      };
      new k8s.Watch(conn.kc)
        .watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { labelSelector: JOB_SELECTOR, resourceVersion, allowWatchBookmarks: true },
          (type: string, obj: k8s.V1Pod & { code?: number }) => {
            if (type === 'BOOKMARK') {
              resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
              return;
            }
            // 410 Gone (too old a version) and other watch errors: list again.
            if (type === 'ERROR') return session.end();
            resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
            this.onPod(type, obj);
          },
          (err: unknown) => session.end(err && !isAbort(err) ? new Error(`the watch failed: ${describeError(err)}`) : undefined),
        )
        .then(
          (abort) => {
            session.abort = abort;
            if (ended) abort.abort();
          },
          (e: unknown) => session.end(new Error(`cannot watch: ${describeError(e)}`)),
        );
    });
  }

  private onPod(type: string, pod: k8s.V1Pod): void {
    const id = Number(pod.metadata?.labels?.[LABELS.jobId]);
    if (!Number.isSafeInteger(id) || id < 1) return;
    this.status.podEvents++;
    const at = this.now();
    if (type === 'DELETED') {
      this.pods.delete(id);
      void this.onPodGone(id, at);
      return;
    }
    if (pod.metadata?.name) this.pods.set(id, pod.metadata.name);
    // The key tells our job from a same-numbered one of another database in this namespace.
    void this.apply(id, { type: 'pod', at, pod: observePod(pod) }, pod.metadata?.annotations?.[KEY_ANNOTATION]);
  }

  /** A pod went away: expected (we deleted it, or it ended), or the Job's verdict explains it, or it is lost. */
  private async onPodGone(id: number, at: string): Promise<void> {
    if (this.deleting.has(id)) return;
    const session = this.session;
    if (session) {
      try {
        const job = await session.batch.readNamespacedJob({ name: objectName(id), namespace: session.conn.namespace });
        const verdict = observeJob(job);
        // The deadline and success explain a pod's going. Any other verdict (BackoffLimitExceeded)
        // is the Job controller reacting to the very deletion we are looking at.
        if (verdict && (verdict.outcome === 'complete' || verdict.reason === 'DeadlineExceeded')) return void (await this.apply(id, { type: 'job', at, job: verdict }));
      } catch (e) {
        if (statusOf(e) !== 404) return this.warn(`cannot read the Job of job ${id} after its pod went away`, e);
      }
    }
    await this.apply(id, { type: 'pod-gone', at });
  }

  // --- applying events ---------------------------------------------------------------------------

  /** Feed one event to a job's state machine, in order with its other events. */
  private apply(id: number, event: LauncherEvent, key?: string): Promise<void> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const run = prev.then(() => this.applyNow(id, event, key)).catch((e: unknown) => this.warn(`job ${id}: cannot record ${event.type}`, e));
    this.chains.set(id, run);
    void run.then(() => {
      if (this.chains.get(id) === run) this.chains.delete(id);
    });
    return run;
  }

  private async applyNow(id: number, event: LauncherEvent, key?: string): Promise<void> {
    const db = this.deps.store.db;
    for (let attempt = 0; attempt < 5; attempt++) {
      const job = await jobsRepo.get(db, id);
      if (!job) return; // not ours any more (reconciliation deletes its objects)
      if (key !== undefined && key !== job.key) return; // another job's pod with the same number
      const before = jobStatus(job);
      const { status, effects } = next(before, event);
      if (!statusChanged(before, status) && !effects.length) return;
      const ok = await jobsRepo.applyStatus(db, id, job.state, status, this.now());
      if (!ok) continue; // moved meanwhile (a cancel): read again
      // Effects first (the task's words, the kept log), so whoever the event wakes sees them.
      await this.runEffects({ ...job, ...status }, effects);
      this.deps.events.emit('jobs.changed', { content_guid: await this.contentGuid(job.content_id), key: job.key, state: status.state });
      return;
    }
  }

  private async runEffects(job: JobRecord, effects: ReturnType<typeof next>['effects']): Promise<void> {
    const lines: string[] = [];
    let settle: { code: number; error: string } | undefined;
    let finished = false;
    let replaced = false;
    for (const effect of effects) {
      switch (effect.type) {
        case 'say':
          lines.push(`[${job.kind} ${job.key}] ${effect.line}`);
          break;
        case 'create':
          void this.create(job.id);
          break;
        case 'delete':
          await this.deleteObjects(job);
          break;
        case 'keep-logs':
          await this.keepLogs(job);
          break;
        case 'ready':
          if (job.kind === 'run') {
            settle = { code: 0, error: '' };
            replaced = true;
          }
          break;
        case 'finished':
          settle = await this.settlement(job);
          finished = true;
          break;
        case 'stream-output':
          if (job.task_id) this.output.start(job.id, job.task_id, (out, signal) => this.followLog(job, out, signal));
          break;
      }
    }
    // The job's own output comes before the launcher's verdict on it.
    if (finished || replaced) {
      const task = job.task_id ? await tasksRepo.get(this.deps.store.db, job.task_id) : undefined;
      if (finished && task && !task.finished) await this.output.finish(job.id, task.id, (await jobsRepo.log(this.deps.store.db, job.id))?.text ?? null);
      else await this.output.stop(job.id);
    }
    if (job.task_id && (lines.length || settle)) {
      const task = await tasksRepo.get(this.deps.store.db, job.task_id);
      if (task && !task.finished) {
        if (settle?.code === 0) lines.push(job.kind === 'run' ? 'Status: the content is running.' : 'Status: done.');
        else if (settle) lines.push(`Status: failed. ${settle.error}`);
        await this.deps.tasks.append(job.task_id, lines, settle);
      }
    }
    // After the task has this job's words: the next jobs (or their cancellation) come after them.
    if (finished) this.kick();
    // A content item serves from one process: the new one is ready, so the older ones stop. A
    // draft's run (a bundle not active, started to verify it) replaces nothing.
    if (replaced && (await contentRepo.getById(this.deps.store.db, job.content_id))?.bundle_id === job.bundle_id) {
      const older = (await jobsRepo.active(this.deps.store.db)).filter((j) => j.content_id === job.content_id && j.kind === 'run' && j.id < job.id);
      for (const o of older) void this.apply(o.id, { type: 'cancel', at: this.now(), by: `the launcher (replaced by run job ${job.key}, now ready)` });
    }
  }

  /** How a job's end settles its deploy task: a failure ends it; the last job's success ends it. */
  private async settlement(job: JobRecord): Promise<{ code: number; error: string } | undefined> {
    if (job.state !== 'succeeded') return { code: 1, error: `The ${job.kind} job ${job.key} ${job.state}${job.reason ? ` (${job.reason})` : ''}${job.message ? `: ${job.message}` : '.'}` };
    if (job.kind === 'run') return undefined; // a running app settles when ready
    const waiting = await this.deps.store.db.selectFrom('jobs').select('id').where('after_job_id', '=', job.id).where('state', '=', 'queued').executeTakeFirst();
    return waiting ? undefined : { code: 0, error: '' };
  }

  // --- the queue ---------------------------------------------------------------------------------

  private async pump(session: Session): Promise<void> {
    const db = this.deps.store.db;
    // Rows a crash left in 'creating': create again (idempotent by name).
    for (const job of await jobsRepo.active(db)) if (job.state === 'creating' && !this.creating.has(job.id)) void this.create(job.id);
    const quotas = await this.deps.quotas();
    let free = quotas.max_concurrent_jobs - (await jobsRepo.countActive(db));
    if (free <= 0) return;
    // A page at a time, oldest first, until the slots are used: a queue longer than a page (or
    // headed by jobs waiting for their build) must not wait for the next kick.
    let afterId = 0;
    for (;;) {
      const queued = await jobsRepo.queued(db, this.opts.queuePage, afterId);
      const after = await jobsRepo.getMany(db, [...new Set(queued.flatMap((j) => (j.after_job_id === null ? [] : [j.after_job_id])))]);
      const byId = new Map(after.map((j) => [j.id, j]));
      for (const job of queued) {
        if (this.stopped || this.session !== session) return;
        if (job.after_job_id !== null) {
          const dep = byId.get(job.after_job_id);
          if (!dep || (isTerminal(dep.state) && dep.state !== 'succeeded')) {
            const why = dep ? `the ${dep.kind} job ${dep.key} it waits for ${dep.state}` : 'the job it waits for is gone';
            await this.apply(job.id, { type: 'cancel', at: this.now(), by: `the launcher (${why})` });
            continue;
          }
          if (dep.state !== 'succeeded') continue;
        }
        if (free <= 0) return;
        free--;
        await this.apply(job.id, { type: 'launch', at: this.now() });
      }
      if (queued.length < this.opts.queuePage) return;
      afterId = queued.at(-1)!.id;
    }
  }

  /** Create a job's objects: refuse what the quotas refuse, check its service account, then the Job and Service. */
  private async create(id: number): Promise<void> {
    if (this.creating.has(id)) return;
    const session = this.session;
    if (!session) return; // picked up again by the next pump
    this.creating.add(id);
    try {
      const db = this.deps.store.db;
      const job = await jobsRepo.get(db, id);
      if (!job || job.state !== 'creating') return;
      const content = await contentRepo.getById(db, job.content_id);
      const at = () => this.now();
      if (!content) return void (await this.apply(id, { type: 'create-failed', at: at(), reason: 'ContentDeleted', message: 'The content was deleted.' }));
      const r = job.resources;
      const cores = (m: number | null) => (m === null ? null : m / 1000);
      const quotas = await this.deps.quotas();
      let eff: ReturnType<typeof effectiveResources>;
      try {
        eff = effectiveResources(
          { cpu_request: cores(r.cpu_request_millicores), cpu_limit: cores(r.cpu_limit_millicores), memory_request: r.memory_request_bytes, memory_limit: r.memory_limit_bytes, service_account_name: r.service_account_name },
          quotas,
        );
      } catch (e) {
        // Settings the content checks should have refused: retrying cannot help.
        return void (await this.apply(id, { type: 'create-failed', at: at(), reason: 'InvalidSettings', message: `The job's resources cannot be used: ${describeError(e)}` }));
      }
      if (eff.refused) return void (await this.apply(id, { type: 'create-failed', at: at(), reason: eff.refused.code, message: eff.refused.message }));
      const { core, batch, conn } = session;
      const namespace = conn.namespace;
      if (eff.service_account_name !== null) {
        try {
          await core.readNamespacedServiceAccount({ name: eff.service_account_name, namespace });
        } catch (e) {
          if (statusOf(e) === 404)
            return void (await this.apply(id, {
              type: 'create-failed',
              at: at(),
              reason: 'ServiceAccountMissing',
              message: `The service account "${eff.service_account_name}" does not exist in namespace ${namespace}; create it there or change the content's service_account_name.`,
            }));
          throw e;
        }
      }
      // The bundle on the content volume, the job's directories and script, before any object exists.
      let execution: PodExecution | undefined;
      if (this.deps.execution) {
        const x = this.deps.execution;
        if (!x.volume) return void (await this.apply(id, { type: 'create-failed', at: at(), reason: 'NoContentVolume', message: x.noVolumeMessage || NO_VOLUME_MESSAGE }));
        const bundle = await bundlesRepo.get(db, content.id, job.bundle_id);
        if (!bundle) return void (await this.apply(id, { type: 'create-failed', at: at(), reason: 'BundleDeleted', message: `Bundle ${job.bundle_id} was deleted.` }));
        const said: string[] = [];
        const prepared = await prepareExecution(x, job, content, bundle, (line) => said.push(`[${job.kind} ${job.key}] ${line}`));
        if (said.length && job.task_id) await this.deps.tasks.append(job.task_id, said);
        if (!prepared.ok) return void (await this.apply(id, { type: 'create-failed', at: at(), reason: prepared.reason, message: prepared.message }));
        execution = prepared.execution;
      }
      const spec = {
        execution,
        job: { id: job.id, key: job.key, kind: job.kind, tag: job.tag, bundle_id: job.bundle_id },
        content: { guid: content.guid, name: content.name, app_mode: content.app_mode },
        image: job.image,
        namespace,
        resources: eff,
        deadlineSeconds: job.kind === 'run' ? null : this.opts.deadlineSeconds[job.kind],
        ttlSecondsAfterFinished: this.opts.ttlSecondsAfterFinished,
        placement: this.opts.placement,
        podAnnotations: this.deps.testPodAnnotations?.(job),
      };
      const name = objectName(job.id);
      // Recorded before the create, so a crash between the two still leaves the name to reconcile.
      await jobsRepo.setObjectName(db, id, namespace, name, this.now());
      let created: k8s.V1Job;
      try {
        const body = jobManifest(spec);
        const command = this.deps.testContainerCommand?.(job);
        if (command) body.spec!.template.spec!.containers.find((c) => c.name === MAIN_CONTAINER)!.command = command;
        created = await batch.createNamespacedJob({ namespace, body });
      } catch (e) {
        if (statusOf(e) !== 409) throw e;
        created = await batch.readNamespacedJob({ name, namespace }); // made by an earlier attempt?
        const theirs = created.metadata?.annotations?.[KEY_ANNOTATION];
        if (theirs !== job.key) {
          if (created.metadata?.deletionTimestamp) throw new Error(`an older Job named ${name} is still being deleted`); // retried
          return void (await this.apply(id, {
            type: 'create-failed',
            at: at(),
            reason: 'NameTaken',
            message: `Namespace ${namespace} already has a Job named ${name} for another job (key ${theirs ?? 'none'}). Is another Offhost installation, with its own database, using this namespace? Give each installation its own namespace.`,
          }));
        }
      }
      if (needsService(job.kind, content.app_mode)) {
        try {
          await core.createNamespacedService({ namespace, body: serviceManifest(spec, created.metadata!.uid!) });
        } catch (e) {
          if (statusOf(e) !== 409) throw e;
        }
      }
      const lines = eff.clamped.map((c) => `[${job.kind} ${job.key}] ${c.message}`);
      if (lines.length && job.task_id) await this.deps.tasks.append(job.task_id, lines);
      await this.apply(id, { type: 'created', at: at() });
      this.waitingWords.delete(id);
      // One look, a few seconds on, at a Job that still has no pod (reconciliation looks again).
      setTimeout(() => void this.checkPodless(id), this.opts.podlessCheckMs).unref();
    } catch (e) {
      // Left in 'creating': the next pump or reconciliation tries again.
      const code = statusOf(e);
      if (code !== undefined && code >= 400 && code < 500 && code !== 409 && code !== 429) {
        this.waitingWords.delete(id);
        await this.apply(id, { type: 'create-failed', at: this.now(), reason: 'Rejected', message: `Kubernetes refused: ${describeError(e)}` });
      } else {
        this.warn(`job ${id}: cannot create its objects; will retry`, e);
        await this.sayWaiting(id, describeError(e));
        setTimeout(() => this.kick(), this.opts.backoffMs.initial).unref();
      }
    } finally {
      this.creating.delete(id);
    }
  }

  /** Why a job is not starting yet, in its task — once per distinct reason, not on every retry. */
  private async sayWaiting(id: number, why: string): Promise<void> {
    if (this.waitingWords.get(id) === why) return;
    this.waitingWords.set(id, why);
    const job = await jobsRepo.get(this.deps.store.db, id).catch(() => undefined);
    if (job?.task_id) await this.deps.tasks.append(job.task_id, [`[${job.kind} ${job.key}] Not started yet: ${why}. Trying again.`]).catch(() => undefined);
  }

  private async deleteObjects(job: JobRecord): Promise<void> {
    this.deleting.add(job.id);
    try {
      // Not watching (another instance leads, or the cluster is away): delete directly; if that
      // fails too, the leader's reconciliation deletes the objects of a cancelled row.
      const conn = this.session?.conn ?? this.deps.connect();
      const batch = this.session?.batch ?? conn.kc.makeApiClient(k8s.BatchV1Api);
      await batch.deleteNamespacedJob({ name: objectName(job.id), namespace: conn.namespace, propagationPolicy: 'Foreground' });
    } catch (e) {
      if (statusOf(e) === 404) return;
      // Not deleted: reconciliation (at the next relist, or every few minutes) must try again.
      this.deleting.delete(job.id);
      this.warn(`job ${job.id}: cannot delete its Job; reconciliation will`, e);
    }
  }

  /** Copy the end of the pod's log into the store, while the pod still exists. */
  private async keepLogs(job: JobRecord): Promise<void> {
    const session = this.session;
    const pod = this.pods.get(job.id);
    if (!session || !pod) return;
    try {
      const text = await session.core.readNamespacedPodLog({ name: pod, namespace: session.conn.namespace, container: MAIN_CONTAINER, limitBytes: this.opts.logCapBytes + 1 });
      const truncated = Buffer.byteLength(text) > this.opts.logCapBytes;
      await jobsRepo.saveLog(this.deps.store.db, job.id, truncated ? Buffer.from(text).subarray(0, this.opts.logCapBytes).toString() : text, truncated);
    } catch (e) {
      this.deps.log.info({ job: job.id }, `launcher: no log kept for job ${job.id}: ${describeError(e)}`);
    }
  }

  // --- reconciliation ----------------------------------------------------------------------------

  async reconcile(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const pods = await session.core.listNamespacedPod({ namespace: session.conn.namespace, labelSelector: JOB_SELECTOR });
    await this.reconcileWith(session, pods.items);
  }

  /**
   * Rows against the cluster: a live row whose Job is gone is lost; a Job with a verdict the
   * watch missed is applied; our Jobs without a live-or-finished row are deleted.
   */
  private async reconcileWith(session: Session, pods: k8s.V1Pod[]): Promise<void> {
    const db = this.deps.store.db;
    const namespace = session.conn.namespace;
    // Rows first: a row that is live now had its Job created before the list below.
    const live = await jobsRepo.active(db);
    const jobs = await session.batch.listNamespacedJob({ namespace, labelSelector: JOB_SELECTOR });
    const k8sJobs = new Map<number, k8s.V1Job>();
    for (const j of jobs.items) {
      const id = Number(j.metadata?.labels?.[LABELS.jobId]);
      if (Number.isSafeInteger(id)) k8sJobs.set(id, j);
    }
    const podIds = new Set(pods.map((p) => Number(p.metadata?.labels?.[LABELS.jobId])));
    const at = this.now();
    for (const row of live) {
      if (row.state === 'creating') continue; // the pump creates it (again)
      const kj = k8sJobs.get(row.id);
      if (!kj) {
        await this.apply(row.id, { type: 'vanished', at, message: `Its Kubernetes Job ${objectName(row.id)} is gone from namespace ${namespace} (deleted outside Offhost, or while Offhost was not running).` });
        continue;
      }
      const verdict = observeJob(kj);
      if (verdict && !podIds.has(row.id)) await this.apply(row.id, { type: 'job', at, job: verdict });
      // A Job with no pod: the Job controller may be unable to make one (its Events say why).
      if (!verdict && !podIds.has(row.id) && row.state === 'pending') {
        const warning = await this.failedCreate(session, objectName(row.id)).catch(() => undefined);
        if (warning) await this.apply(row.id, { type: 'job-warning', at, reason: warning.reason, message: warning.message });
      }
    }
    const ids = [...k8sJobs.keys()];
    const rows = new Map((await jobsRepo.getMany(db, ids)).map((r) => [r.id, r]));
    for (const id of ids) {
      const row = rows.get(id);
      // No row: not ours to keep. A finished row's Job is left to its TTL (its log may still be read).
      if (row && !(row.state === 'cancelled' || row.state === 'lost')) continue;
      if (row && this.deleting.has(id)) continue;
      this.deleting.add(id);
      try {
        await session.batch.deleteNamespacedJob({ name: objectName(id), namespace, propagationPolicy: 'Foreground' });
        this.deps.log.info({ namespace, job: id }, row ? `launcher: deleted the Job of ${row.state} job ${id}` : `launcher: deleted Job ${objectName(id)}, which has no job row`);
      } catch (e) {
        if (statusOf(e) !== 404) this.warn(`cannot delete Job ${objectName(id)}`, e);
      }
    }
  }

  private async checkPodless(id: number): Promise<void> {
    const session = this.session;
    if (!session || this.pods.has(id) || this.stopped) return;
    const warning = await this.failedCreate(session, objectName(id)).catch(() => undefined);
    if (warning) await this.apply(id, { type: 'job-warning', at: this.now(), reason: warning.reason, message: warning.message });
  }

  /** The newest FailedCreate Event of a Job, if any. */
  private async failedCreate(session: Session, name: string): Promise<{ reason: string; message: string } | undefined> {
    const list = await session.core.listNamespacedEvent({ namespace: session.conn.namespace, fieldSelector: `involvedObject.kind=Job,involvedObject.name=${name},reason=FailedCreate` });
    const time = (e: k8s.CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? 0).getTime();
    const last = list.items.sort((a, b) => time(a) - time(b)).at(-1);
    return last ? { reason: last.reason ?? 'FailedCreate', message: last.message ?? '' } : undefined;
  }

  // --- reading -----------------------------------------------------------------------------------

  /** The job's Kubernetes Events (the Job's and its pod's), oldest first; [] without a cluster. */
  async kubeEvents(job: JobRecord): Promise<{ time: string | null; type: string; reason: string; message: string; object: string }[]> {
    const session = this.session;
    if (!session) return [];
    const names = [objectName(job.id), this.pods.get(job.id)].filter((n): n is string => Boolean(n));
    const out = [];
    for (const name of names) {
      const list = await session.core.listNamespacedEvent({ namespace: session.conn.namespace, fieldSelector: `involvedObject.name=${name}` });
      for (const e of list.items)
        out.push({
          time: toIso(e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp),
          type: e.type ?? '',
          reason: e.reason ?? '',
          message: e.message ?? '',
          object: `${e.involvedObject.kind}/${e.involvedObject.name}`,
        });
    }
    return out.sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
  }

  /** The pod's log: from the cluster while the pod exists, else what was kept. */
  async logText(job: JobRecord): Promise<{ text: string; truncated: boolean; source: 'cluster' | 'store' } | null> {
    const session = this.session;
    const pod = this.pods.get(job.id);
    if (session && pod) {
      try {
        const text = await session.core.readNamespacedPodLog({ name: pod, namespace: session.conn.namespace, container: MAIN_CONTAINER, limitBytes: this.opts.logCapBytes });
        return { text, truncated: Buffer.byteLength(text) >= this.opts.logCapBytes, source: 'cluster' };
      } catch {
        // fall back to the store
      }
    }
    const kept = await jobsRepo.log(this.deps.store.db, job.id);
    return kept && { ...kept, source: 'store' };
  }

  /** Follow the pod's log (client-node's Log API) into `out` until the container ends or `signal` aborts. */
  /**
   * Follow the pod's log (client-node's Log API) into `out` until the container ends or `signal`
   * aborts. Resolves once following (true), or false when there is no pod to follow.
   */
  async followLog(job: JobRecord, out: Writable, signal: AbortSignal): Promise<boolean> {
    const session = this.session;
    const pod = this.pods.get(job.id);
    if (!session || !pod) return false;
    const abort = await new k8s.Log(session.conn.kc).log(session.conn.namespace, pod, MAIN_CONTAINER, out, { follow: true });
    signal.addEventListener('abort', () => abort.abort(), { once: true });
    return true;
  }

  private readonly guids = new Map<number, string>();
  private async contentGuid(contentId: number): Promise<string> {
    let guid = this.guids.get(contentId);
    if (!guid) {
      guid = (await contentRepo.getById(this.deps.store.db, contentId))?.guid ?? '';
      if (guid) this.guids.set(contentId, guid);
    }
    return guid;
  }

  private warn(what: string, e: unknown): void {
    this.deps.log.warn({ namespace: this.status.namespace }, `launcher: ${what}: ${describeError(e)}`);
  }
}

function toIso(t: Date | string | undefined | null): string | null {
  if (!t) return null;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || /aborted/i.test(e.message));
}
