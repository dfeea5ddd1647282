// Tasks: the asynchronous work a client polls (GET /v1/tasks/{id}). Output lines are appended;
// a task finishes once, with a code (0 = success) and an error message.
import type { Kysely, Selectable } from 'kysely';
import type { Database, TasksTable } from './schema';

type Db = Kysely<Database>;

export interface TaskRecord {
  id: string;
  kind: string;
  content_id: number | null;
  bundle_id: number | null;
  activate: boolean;
  actor: string;
  output: string[];
  finished: boolean;
  code: number;
  error: string;
  result: unknown;
  created_time: string;
  updated_time: string;
}

function toRecord(row: Selectable<TasksTable>): TaskRecord {
  return {
    id: row.id,
    kind: row.kind,
    content_id: row.content_id,
    bundle_id: row.bundle_id,
    activate: row.activate !== 0,
    actor: row.actor,
    output: JSON.parse(row.output) as string[],
    finished: row.finished !== 0,
    code: row.code,
    error: row.error,
    result: row.result === null ? null : JSON.parse(row.result),
    created_time: row.created_time,
    updated_time: row.updated_time,
  };
}

export const tasksRepo = {
  async get(db: Db, id: string): Promise<TaskRecord | undefined> {
    const row = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  async insert(db: Db, t: { id: string; kind: string; content_id: number; bundle_id: number | null; activate: boolean; actor: string; output: string[] }, now: string): Promise<TaskRecord> {
    const row = await db
      .insertInto('tasks')
      .values({ ...t, activate: t.activate ? 1 : 0, output: JSON.stringify(t.output), finished: 0, code: 0, error: '', result: null, created_time: now, updated_time: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  /**
   * Append lines and, optionally, finish. Read-modify-write inside the caller's transaction.
   * Undefined when the task is gone (its content was deleted meanwhile).
   */
  async append(db: Db, id: string, lines: string[], now: string, finish?: { code: number; error: string }): Promise<TaskRecord | undefined> {
    const current = await this.get(db, id);
    if (!current) return undefined;
    const row = await db
      .updateTable('tasks')
      .set({
        output: JSON.stringify([...current.output, ...lines]),
        updated_time: now,
        ...(finish ? { finished: 1, code: finish.code, error: finish.error } : {}),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  /** Deploy and build tasks of one content item, newest first: its deploy history. */
  async listForContent(db: Db, contentId: number): Promise<TaskRecord[]> {
    return (await db.selectFrom('tasks').selectAll().where('content_id', '=', contentId).orderBy('created_time', 'desc').orderBy('id').execute()).map(toRecord);
  },

  /** Unfinished tasks created before `before` (RFC 3339), oldest first. */
  async unfinishedBefore(db: Db, before: string): Promise<TaskRecord[]> {
    return (await db.selectFrom('tasks').selectAll().where('finished', '=', 0).where('created_time', '<', before).orderBy('created_time').execute()).map(toRecord);
  },

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('tasks').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  },
};
