// A job's own output in its deploy task, line by line while it runs — what pip, renv, the
// renderer or the starting app print — the way Connect's clients show a deploy. The container's
// log is followed once it starts; lines go to the task in batches; when the job ends, whatever the
// follow missed (a container faster than the watch, a dropped stream) is taken from the log the
// launcher kept, so a crash always ends the task with its last lines.
import { Writable } from 'node:stream';

/** Lines per job copied into a task: a noisy build must not grow the task without bound. */
export const MAX_TASK_LINES = 5000;
/** How long to collect lines before one write to the task. */
const FLUSH_MS = 250;
/** How long the end of a job waits for its stream to deliver the last lines. */
const DRAIN_MS = 3000;

export interface TaskOutputDeps {
  append: (taskId: string, lines: string[]) => Promise<unknown>;
  warn: (what: string, e: unknown) => void;
}

/** Follows a job's container log into `out` until it ends; false when there is no pod to follow. */
export type Follow = (out: Writable, signal: AbortSignal) => Promise<boolean>;

interface Relay {
  taskId: string;
  sent: number;
  partial: string;
  pending: string[];
  timer: NodeJS.Timeout | undefined;
  abort: AbortController;
  /** Resolves when the followed stream has ended (or never started). */
  ended: Promise<void>;
  flushing: Promise<void>;
  /** Stopped or finished: output that still arrives is not the task's any more. */
  closed: boolean;
}

export class TaskOutput {
  private readonly relays = new Map<number, Relay>();

  constructor(private readonly deps: TaskOutputDeps) {}

  /** Start copying job `jobId`'s container output into task `taskId` (once per job). */
  start(jobId: number, taskId: string, follow: Follow): void {
    if (this.relays.has(jobId)) return;
    let endStream!: () => void;
    const relay: Relay = {
      taskId,
      sent: 0,
      partial: '',
      pending: [],
      timer: undefined,
      abort: new AbortController(),
      ended: new Promise<void>((resolve) => (endStream = resolve)),
      flushing: Promise.resolve(),
      closed: false,
    };
    this.relays.set(jobId, relay);
    const out = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        this.take(relay, chunk.toString('utf8'));
        done();
      },
      final: (done) => {
        if (relay.partial) this.take(relay, '\n');
        endStream();
        done();
      },
    });
    out.on('error', () => endStream());
    follow(out, relay.abort.signal).then(
      (following) => {
        if (!following) endStream();
      },
      (e: unknown) => {
        this.deps.warn(`cannot follow the output of job ${jobId}`, e);
        endStream();
      },
    );
  }

  /**
   * The job reached an end: wait briefly for its stream, then write what it missed from the kept
   * log (`kept`, the whole log as stored; null when none). Returns once the task has the lines.
   */
  async finish(jobId: number, taskId: string, kept: string | null): Promise<void> {
    const relay = this.relays.get(jobId);
    if (relay) {
      await Promise.race([relay.ended, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
      this.close(jobId, relay);
      await relay.flushing;
    }
    const sent = relay?.sent ?? 0;
    // Past the cap the cut was said when it happened.
    if (kept === null || sent >= MAX_TASK_LINES) return;
    const missed = splitLines(kept).slice(sent);
    const room = MAX_TASK_LINES - sent;
    const lines = missed.slice(0, room);
    if (missed.length > room) lines.push(truncatedLine());
    if (lines.length) await this.deps.append(taskId, lines).catch((e: unknown) => this.deps.warn(`cannot write job ${jobId}'s output to its task`, e));
  }

  /**
   * Stop copying (an app became ready: its task is about to be settled; its later output is in
   * its log). Resolves once the lines already taken are in the task.
   */
  async stop(jobId: number): Promise<void> {
    const relay = this.relays.get(jobId);
    if (!relay) return;
    this.close(jobId, relay);
    await relay.flushing;
  }

  stopAll(): void {
    for (const id of [...this.relays.keys()]) void this.stop(id);
  }

  private close(jobId: number, relay: Relay): void {
    this.relays.delete(jobId);
    relay.abort.abort();
    this.flush(relay);
    relay.closed = true;
  }

  private take(relay: Relay, text: string): void {
    if (relay.closed) return;
    const parts = (relay.partial + text).split('\n');
    relay.partial = parts.pop() ?? '';
    for (const line of parts) relay.pending.push(line.replace(/\r$/, ''));
    if (relay.pending.length && !relay.timer) relay.timer = setTimeout(() => this.flush(relay), FLUSH_MS);
  }

  private flush(relay: Relay): void {
    clearTimeout(relay.timer);
    relay.timer = undefined;
    if (!relay.pending.length) return;
    const room = MAX_TASK_LINES - relay.sent;
    const lines = relay.pending.splice(0).slice(0, Math.max(0, room));
    // Counted as sent even when cut, so finish() doesn't copy them from the kept log again.
    const before = relay.sent;
    relay.sent += lines.length;
    if (before < MAX_TASK_LINES && relay.sent >= MAX_TASK_LINES) lines.push(truncatedLine());
    if (!lines.length) return;
    relay.flushing = relay.flushing.then(() =>
      this.deps.append(relay.taskId, lines).then(
        () => undefined,
        (e: unknown) => this.deps.warn('cannot write a job output to its task', e),
      ),
    );
  }
}

function truncatedLine(): string {
  return `… (more output than the task keeps, ${MAX_TASK_LINES} lines; the job's log has the rest)`;
}

/** A log's lines; a final newline does not make an empty last line. */
export function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
