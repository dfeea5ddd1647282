// Jobs: the launcher's work queue (DESIGN.md §4). A deploy writes them as 'queued'; the launcher
// turns each into a Kubernetes Job and writes every state change back here.
import type { Kysely, Selectable } from 'kysely';
import type { JobKind, JobState } from '../../shared/content';
import { initialStatus, type JobStatus } from '../../shared/launcher-state';
import type { Database, JobsTable } from './schema';

type Db = Kysely<Database>;

/** What the launcher gives the pod: the content's settings at deploy time, in Kubernetes units. */
export interface JobResources {
  cpu_request_millicores: number | null;
  cpu_limit_millicores: number | null;
  memory_request_bytes: number | null;
  memory_limit_bytes: number | null;
  service_account_name: string | null;
  /** Seconds; null = the server's default. */
  init_timeout: number | null;
  idle_timeout: number | null;
}

export interface JobRecord extends JobStatus {
  id: number;
  key: string;
  content_id: number;
  bundle_id: number;
  task_id: string | null;
  kind: JobKind;
  tag: string;
  after_job_id: number | null;
  environment_guid: string;
  image: string;
  resources: JobResources;
  k8s_namespace: string | null;
  k8s_name: string | null;
  queued_time: string;
  updated_time: string;
}

function toRecord(row: Selectable<JobsTable>): JobRecord {
  // The stored log is read on its own (jobsRepo.log), never with every row.
  const { log_text: _log, log_truncated: _truncated, ...rest } = row;
  return { ...rest, kind: row.kind as JobKind, state: row.state as JobState, resources: JSON.parse(row.resources) as JobResources };
}

const ACTIVE = ['creating', 'pending', 'running'];

/** A row's status fields alone (what the state machine reads and applyStatus writes). */
export function jobStatus(job: JobRecord): JobStatus {
  const { state, created_time, scheduled_time, image_pulled_time, started_time, ready_time, finished_time, exit_code, reason, message, node_name } = job;
  return { state, created_time, scheduled_time, image_pulled_time, started_time, ready_time, finished_time, exit_code, reason, message, node_name };
}

export type NewJob = Pick<JobRecord, 'key' | 'content_id' | 'bundle_id' | 'task_id' | 'kind' | 'tag' | 'after_job_id' | 'environment_guid' | 'image' | 'resources'>;

export const jobsRepo = {
  async insertQueued(db: Db, job: NewJob, now: string): Promise<JobRecord> {
    const row = await db
      .insertInto('jobs')
      .values({
        ...job,
        resources: JSON.stringify(job.resources),
        ...initialStatus(),
        k8s_namespace: null,
        k8s_name: null,
        queued_time: now,
        updated_time: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  async listForContent(db: Db, contentId: number): Promise<JobRecord[]> {
    return (await db.selectFrom('jobs').selectAll().where('content_id', '=', contentId).orderBy('id', 'desc').execute()).map(toRecord);
  },

  async getByKey(db: Db, contentId: number, key: string): Promise<JobRecord | undefined> {
    const row = await db.selectFrom('jobs').selectAll().where('content_id', '=', contentId).where('key', '=', key).executeTakeFirst();
    return row && toRecord(row);
  },

  /** The oldest queued jobs (after `afterId`, for paging): what the launcher picks up next. */
  async queued(db: Db, limit = 100, afterId = 0): Promise<JobRecord[]> {
    return (await db.selectFrom('jobs').selectAll().where('state', '=', 'queued').where('id', '>', afterId).orderBy('id').limit(limit).execute()).map(toRecord);
  },

  /** Queued work for a content item that a newer deploy supersedes is cancelled, not run. */
  async cancelQueued(db: Db, contentId: number, reason: string, now: string): Promise<number> {
    const r = await db
      .updateTable('jobs')
      .set({ state: 'cancelled', reason: 'Superseded', message: reason, finished_time: now, updated_time: now })
      .where('content_id', '=', contentId)
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },

  async get(db: Db, id: number): Promise<JobRecord | undefined> {
    const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  async getMany(db: Db, ids: number[]): Promise<JobRecord[]> {
    if (!ids.length) return [];
    return (await db.selectFrom('jobs').selectAll().where('id', 'in', ids).execute()).map(toRecord);
  },

  /** Jobs that hold a launcher slot: being created, waiting for a node, or running. */
  async active(db: Db): Promise<JobRecord[]> {
    return (await db.selectFrom('jobs').selectAll().where('state', 'in', ACTIVE).orderBy('id').execute()).map(toRecord);
  },

  async countActive(db: Db): Promise<number> {
    const r = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n')).where('state', 'in', ACTIVE).executeTakeFirstOrThrow();
    return Number(r.n);
  },

  /**
   * Write a state change, only if the row is still in the state it was read in (a cancel from the
   * API or another instance may have moved it meanwhile). False: it had moved; read it again.
   */
  async applyStatus(db: Db, id: number, from: JobRecord['state'], status: JobStatus & { k8s_namespace?: string | null; k8s_name?: string | null }, now: string): Promise<boolean> {
    const r = await db
      .updateTable('jobs')
      .set({ ...status, updated_time: now })
      .where('id', '=', id)
      .where('state', '=', from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  async setObjectName(db: Db, id: number, namespace: string, name: string, now: string): Promise<void> {
    await db.updateTable('jobs').set({ k8s_namespace: namespace, k8s_name: name, updated_time: now }).where('id', '=', id).execute();
  },

  async saveLog(db: Db, id: number, text: string, truncated: boolean): Promise<void> {
    await db.updateTable('jobs').set({ log_text: text, log_truncated: truncated ? 1 : 0 }).where('id', '=', id).execute();
  },

  /** The log kept when the job ended; null when none was kept. */
  async log(db: Db, id: number): Promise<{ text: string; truncated: boolean } | null> {
    const r = await db.selectFrom('jobs').select(['log_text', 'log_truncated']).where('id', '=', id).executeTakeFirst();
    return r?.log_text == null ? null : { text: r.log_text, truncated: r.log_truncated === 1 };
  },

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  },
};
