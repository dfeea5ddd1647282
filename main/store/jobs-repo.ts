// Jobs: the launcher's work queue (DESIGN.md §4). A deploy writes them as 'queued'; the launcher
// turns each into a Kubernetes Job and writes every state change back here.
import type { Kysely, Selectable } from 'kysely';
import type { JobKind, JobState } from '../../shared/content';
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

export interface JobRecord {
  id: number;
  key: string;
  content_id: number;
  bundle_id: number;
  task_id: string | null;
  kind: JobKind;
  tag: string;
  state: JobState;
  after_job_id: number | null;
  environment_guid: string;
  image: string;
  resources: JobResources;
  k8s_namespace: string | null;
  k8s_name: string | null;
  queued_time: string;
  created_time: string | null;
  scheduled_time: string | null;
  image_pulled_time: string | null;
  started_time: string | null;
  ready_time: string | null;
  finished_time: string | null;
  exit_code: number | null;
  reason: string | null;
  message: string | null;
  updated_time: string;
}

function toRecord(row: Selectable<JobsTable>): JobRecord {
  return { ...row, kind: row.kind as JobKind, state: row.state as JobState, resources: JSON.parse(row.resources) as JobResources };
}

export type NewJob = Pick<JobRecord, 'key' | 'content_id' | 'bundle_id' | 'task_id' | 'kind' | 'tag' | 'after_job_id' | 'environment_guid' | 'image' | 'resources'>;

export const jobsRepo = {
  async insertQueued(db: Db, job: NewJob, now: string): Promise<JobRecord> {
    const row = await db
      .insertInto('jobs')
      .values({
        ...job,
        resources: JSON.stringify(job.resources),
        state: 'queued',
        k8s_namespace: null,
        k8s_name: null,
        queued_time: now,
        created_time: null,
        scheduled_time: null,
        image_pulled_time: null,
        started_time: null,
        ready_time: null,
        finished_time: null,
        exit_code: null,
        reason: null,
        message: null,
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

  /** The oldest queued jobs: what the launcher picks up next. */
  async queued(db: Db, limit = 100): Promise<JobRecord[]> {
    return (await db.selectFrom('jobs').selectAll().where('state', '=', 'queued').orderBy('id').limit(limit).execute()).map(toRecord);
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

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('jobs').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  },
};
