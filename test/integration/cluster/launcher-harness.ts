// A launcher on a real store (SQLite or PostgreSQL) and the test cluster, with content, bundles,
// tasks and job rows made the way a deploy makes them. Shared by the launcher's cluster tests.
import { randomUUID } from 'node:crypto';
import { DEFAULT_SETTINGS, jobTag, type AppMode, type JobKind } from '../../../shared/content';
import { DEFAULT_QUOTAS, type Quotas } from '../../../shared/quota';
import { TaskService, newTaskId } from '../../../main/content/tasks';
import { EventBus } from '../../../main/events';
import { loadKube } from '../../../main/kube/config';
import { Launcher, type LauncherDeps, type LauncherOptions } from '../../../main/launcher/launcher';
import { silentLogger, type Logger } from '../../../main/log';
import { bundlesRepo } from '../../../main/store/bundles-repo';
import { NO_RUNTIMES, contentRepo } from '../../../main/store/content-repo';
import { openStore, type Store } from '../../../main/store/db';
import { jobsRepo, type JobRecord, type JobResources } from '../../../main/store/jobs-repo';
import { tasksRepo } from '../../../main/store/tasks-repo';
import type { Backend } from '../backends';
import type { DatabaseConfig } from '../../../main/config';
import { kubeconfigPath } from '../../cluster/kube.js';

export interface Harness {
  store: Store;
  /** The database, for a second launcher (another process) on the same data. */
  dbConfig: DatabaseConfig;
  events: EventBus;
  tasks: TaskService;
  launcher: Launcher;
  quotas: Quotas;
  /** kwok.offhost.dev/* annotations per job key (the test-only hook). */
  annotations: Map<string, Record<string, string>>;
  /** A content item with a deployed bundle and a task; jobs are queued by addJob. */
  content(mode: AppMode): Promise<{ contentId: number; guid: string; bundleId: number; taskId: string }>;
  addJob(c: { contentId: number; bundleId: number; taskId: string }, kind: JobKind, mode: AppMode, o?: { after?: number; resources?: Partial<JobResources>; annotations?: Record<string, string>; image?: string }): Promise<JobRecord>;
  /** Resolves with the row once `ok` holds (re-checked on every jobs.changed), or fails with the last row seen. */
  waitFor(id: number, ok: (j: JobRecord) => boolean, timeoutMs?: number): Promise<JobRecord>;
  close(): Promise<void>;
}

const NO_RESOURCES: JobResources = {
  cpu_request_millicores: null,
  cpu_limit_millicores: null,
  memory_request_bytes: null,
  memory_limit_bytes: null,
  service_account_name: null,
  init_timeout: null,
  idle_timeout: null,
};

export async function startHarness(
  backend: Backend,
  namespace: string,
  o: {
    options?: Partial<LauncherOptions>;
    quotas?: Partial<Quotas>;
    start?: boolean;
    log?: Logger;
    testContainerCommand?: (job: JobRecord) => string[] | undefined;
    /** What jobs run and see (the core always gives it; the lifecycle tests leave it out). */
    execution?: LauncherDeps['execution'];
  } = {},
): Promise<Harness & { drop(): Promise<void> }> {
  const db = await backend.create();
  const store = await openStore(db.config, silentLogger);
  const events = new EventBus();
  const now = () => new Date().toISOString();
  const tasks = new TaskService(store.db, now);
  const quotas: Quotas = { ...DEFAULT_QUOTAS, ...o.quotas };
  const annotations = new Map<string, Record<string, string>>();
  const launcher = new Launcher({
    store,
    events,
    tasks,
    log: o.log ?? silentLogger,
    connect: () => loadKube({ source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace }),
    quotas: async () => quotas,
    options: { backoffMs: { initial: 200, max: 2000 }, ...o.options },
    testPodAnnotations: (job) => annotations.get(job.key),
    ...(o.testContainerCommand ? { testContainerCommand: o.testContainerCommand } : {}),
    ...(o.execution ? { execution: o.execution } : {}),
  });
  if (o.start !== false) launcher.start();
  let n = 0;
  const h: Harness & { drop(): Promise<void> } = {
    store,
    dbConfig: db.config,
    events,
    tasks,
    launcher,
    quotas,
    annotations,
    async content(mode) {
      const t = now();
      const guid = randomUUID();
      const c = await contentRepo.insert(store.db, guid, { name: `c${++n}-${guid.slice(0, 6)}`, title: null, description: '', access_type: 'acl', locked: false, locked_message: '', owner_guid: null, settings: DEFAULT_SETTINGS }, t);
      const b = await bundlesRepo.insert(store.db, { content_id: c.id, sha256: guid.replace(/-/g, ''), size: 1, app_mode: mode, manifest: {}, metadata: {}, created_by: 'test', created_time: t });
      await contentRepo.recordDeploy(
        store.db,
        guid,
        { bundle_id: b.id, app_mode: mode, content_category: '', parameterized: false, environment_guid: randomUUID(), image_name: 'registry.invalid/offhost/runner:test', runtimes: NO_RUNTIMES, last_deployed_time: t },
        t,
      );
      const task = await tasksRepo.insert(store.db, { id: newTaskId(), kind: 'deploy', content_id: c.id, bundle_id: b.id, activate: true, actor: 'test', output: [] }, t);
      return { contentId: c.id, guid, bundleId: b.id, taskId: task.id };
    },
    async addJob(c, kind, mode, opts = {}) {
      const key = `k${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      if (opts.annotations) annotations.set(key, opts.annotations);
      const job = await jobsRepo.insertQueued(
        store.db,
        {
          key,
          content_id: c.contentId,
          bundle_id: c.bundleId,
          task_id: c.taskId,
          kind,
          tag: jobTag(kind, mode),
          after_job_id: opts.after ?? null,
          environment_guid: randomUUID(),
          image: opts.image ?? 'registry.invalid/offhost/runner:test',
          resources: { ...NO_RESOURCES, ...opts.resources },
        },
        now(),
      );
      launcher.kick();
      return job;
    },
    async waitFor(id, ok, timeoutMs = 60_000) {
      let last: JobRecord | undefined;
      const check = async () => {
        last = await jobsRepo.get(store.db, id);
        return last && ok(last) ? last : undefined;
      };
      const first = await check();
      if (first) return first;
      return new Promise<JobRecord>((resolve, reject) => {
        const timer = setTimeout(() => {
          off();
          reject(new Error(`job ${id} did not get there in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`));
        }, timeoutMs);
        const off = events.on('jobs.changed', () => {
          void check().then((j) => {
            if (!j) return;
            clearTimeout(timer);
            off();
            resolve(j);
          });
        });
      });
    },
    async close() {
      await launcher.stop();
      await store.close();
    },
    async drop() {
      await h.close();
      await db.drop();
    },
  };
  return h;
}
