// Tasks as Connect's clients poll them: GET /v1/tasks/{id}?first=N&wait=S answers the output from
// line N, waiting up to S seconds for new lines or the end. Waiters in this process are woken at
// once; a change made by another instance sharing the database is seen on the next re-read.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Task } from '../../shared/content';
import { AppError } from '../../shared/errors';
import type { Store } from '../store/db';
import { tasksRepo, type TaskRecord } from '../store/tasks-repo';

type Db = Store['db'];

/** Longest long-poll a client may ask for; more would only hold sockets open. */
export const MAX_WAIT_SECONDS = 60;
/** How often a waiter re-reads the task, for changes made by other instances. */
const REREAD_MS = 500;

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Connect's task ids are opaque strings; ours are 16 random alphanumerics. */
export function newTaskId(): string {
  return [...randomBytes(16)].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

export class TaskService {
  private readonly changed = new EventEmitter().setMaxListeners(0);

  constructor(private readonly db: Db, private readonly now: () => string) {}

  create(db: Db, t: Parameters<typeof tasksRepo.insert>[1]): Promise<TaskRecord> {
    return tasksRepo.insert(db, t, this.now());
  }

  async append(id: string, lines: string[], finish?: { code: number; error: string }): Promise<TaskRecord | undefined> {
    const task = await this.db.transaction().execute((trx) => tasksRepo.append(trx, id, lines, this.now(), finish));
    this.changed.emit(id);
    return task;
  }

  /** Tell waiters a task changed inside a transaction that has now committed. */
  notify(id: string): void {
    this.changed.emit(id);
  }

  async get(id: string): Promise<TaskRecord> {
    const task = await tasksRepo.get(this.db, id);
    if (!task) throw new AppError('NotFound', `There is no task ${JSON.stringify(id)}.`, 'id');
    return task;
  }

  /** The task from line `first`, after waiting up to `waitSeconds` for more lines or the end. */
  async poll(id: string, first: number, waitSeconds: number): Promise<{ record: TaskRecord; task: Task }> {
    const deadline = Date.now() + Math.min(waitSeconds, MAX_WAIT_SECONDS) * 1000;
    let record = await this.get(id);
    while (!record.finished && record.output.length <= first && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.changed.off(id, done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(REREAD_MS, Math.max(0, deadline - Date.now())));
        this.changed.on(id, done);
      });
      record = await this.get(id);
    }
    const from = Math.min(first, record.output.length);
    return {
      record,
      task: {
        id: record.id,
        output: record.output.slice(from),
        finished: record.finished,
        code: record.code,
        error: record.error,
        last: record.output.length,
        result: record.result ?? null,
      },
    };
  }
}
