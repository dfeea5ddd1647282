// What the API offers on jobs, over the content service's permission checks: cancel, the log and
// the Kubernetes Events of one job. With no cluster configured there is no launcher: a queued job
// can still be cancelled (only the database holds it), and logs are what the store kept.
import { PassThrough, Readable, Transform } from 'node:stream';
import { isTerminal, next } from '../../shared/launcher-state';
import { AppError } from '../../shared/errors';
import type { Caller, ContentService } from '../content/service';
import type { EventBus } from '../events';
import type { Store } from '../store/db';
import { jobStatus, jobsRepo, type JobRecord } from '../store/jobs-repo';
import type { ContentRecord } from '../store/content-repo';
import type { Launcher } from './launcher';

export interface LogEntry {
  source: 'stdout' | 'stderr';
  timestamp: string;
  data: string;
}

export class JobsService {
  constructor(private readonly deps: { store: Store; content: ContentService; events: EventBus; launcher: Launcher | undefined; now?: () => string }) {}

  private now(): string {
    return this.deps.now?.() ?? new Date().toISOString();
  }

  /** Stop a job: 409 InactiveJob when it has already ended. */
  async cancel(guid: string, key: string, caller: Caller): Promise<{ content: ContentRecord; job: JobRecord }> {
    const { content, job } = await this.deps.content.job(guid, key, caller);
    if (isTerminal(job.state)) throw new AppError('InactiveJob', `The job ${key} has already ended (${job.state}); there is nothing to cancel.`, 'key');
    if (this.deps.launcher) return { content, job: await this.deps.launcher.cancel(job.id, caller.actor) };
    // No cluster: nothing runs, so the row is all there is to change.
    const { status } = next(jobStatus(job), { type: 'cancel', at: this.now(), by: caller.actor });
    await jobsRepo.applyStatus(this.deps.store.db, job.id, job.state, status, this.now());
    this.deps.events.emit('jobs.changed', { content_guid: content.guid, key, state: status.state });
    return { content, job: (await jobsRepo.get(this.deps.store.db, job.id))! };
  }

  /** The log as Connect's LogEntries: one entry per line (the last `maxLines`). */
  async log(guid: string, key: string, caller: Caller, maxLines: number): Promise<{ entries: LogEntry[]; truncated: boolean; source: 'cluster' | 'store' | 'none' }> {
    const { job } = await this.deps.content.job(guid, key, caller);
    const got = this.deps.launcher ? await this.deps.launcher.logText(job) : await jobsRepo.log(this.deps.store.db, job.id).then((k) => k && { ...k, source: 'store' as const });
    if (!got) return { entries: [], truncated: false, source: 'none' };
    const lines = got.text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const at = job.finished_time ?? job.updated_time;
    return { entries: lines.slice(-maxLines).map((data) => ({ source: 'stdout', timestamp: at, data })), truncated: got.truncated || lines.length > maxLines, source: got.source };
  }

  /**
   * The log as a stream of LogEntry objects, one JSON per line: followed live from the pod while
   * it runs (until it ends or `signal` aborts), else the kept log, then the end.
   */
  async tail(guid: string, key: string, caller: Caller, signal: AbortSignal): Promise<Readable> {
    const { job } = await this.deps.content.job(guid, key, caller);
    const toEntries = () => {
      let rest = '';
      const entry = (data: string) => `${JSON.stringify({ source: 'stdout', timestamp: new Date().toISOString(), data } satisfies LogEntry)}\n`;
      return new Transform({
        transform(chunk: Buffer, _enc, done) {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          done(null, lines.map(entry).join(''));
        },
        flush(done) {
          done(null, rest ? entry(rest) : '');
        },
      });
    };
    if (this.deps.launcher && !isTerminal(job.state)) {
      const raw = new PassThrough();
      const out = raw.pipe(toEntries());
      const following = await this.deps.launcher.followLog(job, raw, signal).catch(() => false);
      if (following) return out;
      raw.destroy();
    }
    const kept = await jobsRepo.log(this.deps.store.db, job.id);
    return Readable.from([kept?.text ?? '']).pipe(toEntries());
  }

  /** The job's Kubernetes Events (its Job's and its pod's). */
  async kubeEvents(guid: string, key: string, caller: Caller) {
    const { job } = await this.deps.content.job(guid, key, caller);
    return this.deps.launcher ? this.deps.launcher.kubeEvents(job) : [];
  }
}
