// The Processes table's live data: rows by job id, changed by the event stream and applied in one
// batch per animation frame. A change makes a new object for that row only, so the table's
// memoized rows re-render only where something changed; everything else keeps its identity.
import type { JobView } from '../../../shared/jobs';
import type { MetricsStatus, ProcessList, ProcessRow, ProcessesMetricsEvent } from '../../../shared/processes';

type Op = (rows: Map<number, ProcessRow>, byKey: Map<string, number>) => void;

export class ProcessStore {
  private readonly rows = new Map<number, ProcessRow>();
  private readonly byKey = new Map<string, number>();
  private ops: Op[] = [];
  private frame: number | undefined;
  private readonly listeners = new Set<() => void>();
  /** `membership` changes only when rows come or go (what the filters' choices depend on). */
  private snapshot: { version: number; membership: number; rows: readonly ProcessRow[] } = { version: 0, membership: 0, rows: [] };
  private membership = 0;
  /** Loaded at least once. */
  loaded = false;
  truncated = false;
  metrics: MetricsStatus | undefined;
  /** Server clock minus ours, so ages agree with the server's timestamps. */
  skewMs = 0;

  constructor(private readonly schedule: (flush: () => void) => number = (f) => requestAnimationFrame(f)) {}

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getSnapshot = () => this.snapshot;

  /** A fresh list from processes.list: rows that did not change keep their object. */
  replace(list: ProcessList): void {
    this.enqueue((rows, byKey) => {
      const seen = new Set<number>();
      for (const r of list.rows) {
        seen.add(r.id);
        const old = rows.get(r.id);
        if (!old) this.membership++;
        if (!old || !sameRow(old, r)) rows.set(r.id, r);
        byKey.set(r.key, r.id);
      }
      for (const [id, r] of rows)
        if (!seen.has(id)) {
          rows.delete(id);
          byKey.delete(r.key);
          this.membership++;
        }
      this.loaded = true;
      this.truncated = list.truncated;
      this.metrics = list.metrics;
      this.skewMs = Date.parse(list.now) - Date.now();
    });
  }

  /** One metrics cycle (processes.metrics): new usage for the rows it names, none for `gone`. */
  applyMetrics(e: ProcessesMetricsEvent): void {
    this.enqueue((rows) => {
      for (const m of e.rows) {
        const r = rows.get(m.id);
        if (r) rows.set(m.id, { ...r, usage: { t: m.sample_time, cpu_millicores: m.cpu_millicores, memory_bytes: m.memory_bytes } });
      }
      for (const id of e.gone) {
        const r = rows.get(id);
        if (r?.usage) rows.set(id, { ...r, usage: null });
      }
      this.metrics = e.status;
    });
  }

  /** A job's new status (jobs.get after jobs.changed). False: the job is not in the table (refetch the list). */
  mergeJob(job: JobView): boolean {
    if (!this.byKey.has(job.key)) return false;
    this.enqueue((rows, byKey) => {
      const id = byKey.get(job.key);
      const r = id === undefined ? undefined : rows.get(id);
      if (!r) return;
      const next: ProcessRow = { ...r, ...job, usage: isActive(job.state) ? r.usage : null };
      if (!sameRow(r, next)) rows.set(r.id, next);
    });
    return true;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Apply what is queued now (tests and benchmarks; the page lets the frame do it). */
  flush = (): void => {
    if (this.frame !== undefined) {
      if (typeof cancelAnimationFrame === 'function') cancelAnimationFrame(this.frame);
      this.frame = undefined;
    }
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    for (const op of ops) op(this.rows, this.byKey);
    this.snapshot = { version: this.snapshot.version + 1, membership: this.membership, rows: Array.from(this.rows.values()) };
    for (const l of this.listeners) l();
  };

  private enqueue(op: Op): void {
    this.ops.push(op);
    if (this.frame === undefined)
      this.frame = this.schedule(() => {
        this.frame = undefined;
        this.flush();
      });
  }
}

export const ACTIVE_STATES = ['queued', 'creating', 'pending', 'running'] as const;
export function isActive(state: string): boolean {
  return (ACTIVE_STATES as readonly string[]).includes(state);
}

/** The fields the table shows: equal → keep the old object (and its rendered row). */
function sameRow(a: ProcessRow, b: ProcessRow): boolean {
  return (
    a.state === b.state &&
    a.node_name === b.node_name &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.restarts === b.restarts &&
    a.created_time === b.created_time &&
    a.scheduled_time === b.scheduled_time &&
    a.image_pulled_time === b.image_pulled_time &&
    a.started_time === b.started_time &&
    a.ready_time === b.ready_time &&
    a.finished_time === b.finished_time &&
    a.exit_code === b.exit_code &&
    a.image === b.image &&
    a.content_name === b.content_name &&
    a.content_title === b.content_title &&
    a.usage?.t === b.usage?.t &&
    a.usage?.cpu_millicores === b.usage?.cpu_millicores &&
    a.usage?.memory_bytes === b.usage?.memory_bytes &&
    a.resources.cpu_request_millicores === b.resources.cpu_request_millicores &&
    a.resources.cpu_limit_millicores === b.resources.cpu_limit_millicores &&
    a.resources.memory_request_bytes === b.resources.memory_request_bytes &&
    a.resources.memory_limit_bytes === b.resources.memory_limit_bytes
  );
}
