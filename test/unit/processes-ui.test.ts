// The Processes UI's pure parts: filters, sort, figures, the live store's batching, a job's phases
// and the words said while it starts.
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../shared/jobs';
import type { ProcessList, ProcessRow, MetricsStatus } from '../../shared/processes';
import { ProcessStore } from '../../renderer/src/processes/store';
import { launchProgress, outcome, phases } from '../../renderer/src/processes/timeline';
import { cpuCell, durationText, filterRows, memCell, nextSort, niceTicks, NO_FILTERS, sortRows } from '../../renderer/src/processes/view';

const MiB = 1024 * 1024;
const status: MetricsStatus = {
  state: 'ok', available: true, error: null, last_sample_time: null, last_cycle_time: null, pods: 0, matched: 0,
  interval_seconds: 15, raw_retention_seconds: 3600, retention_seconds: 604800,
};

function job(over: Partial<JobView> = {}): JobView {
  return {
    key: 'k1', kind: 'build', tag: 'python_restore', bundle_id: '1', environment_guid: 'e', image: 'img:1', k8s_name: null,
    queued_time: '2026-12-06T06:00:00.000Z', state: 'queued', created_time: null, scheduled_time: null, image_pulled_time: null,
    started_time: null, ready_time: null, finished_time: null, exit_code: null, reason: null, message: null, node_name: null,
    ...over,
  };
}

let nextId = 1;
function row(over: Partial<ProcessRow> = {}): ProcessRow {
  const id = over.id ?? nextId++;
  return {
    ...job({ key: `k${id}`, state: 'running', queued_time: `2026-12-06T06:${String(id % 60).padStart(2, '0')}:00.000Z` }),
    id, content_guid: `c${id % 3}`, content_name: `content-${id % 3}`, content_title: null, restarts: 0,
    resources: { cpu_request_millicores: 500, cpu_limit_millicores: 1000, memory_request_bytes: 512 * MiB, memory_limit_bytes: 1024 * MiB },
    usage: { t: '2026-12-06T06:59:00.000Z', cpu_millicores: 250, memory_bytes: 300 * MiB },
    ...over,
  };
}

describe('filters and sort', () => {
  const rows = [
    row({ id: 1, state: 'running', kind: 'build', image: 'a:1', content_title: 'Sales API', usage: { t: 't', cpu_millicores: 900, memory_bytes: MiB } }),
    row({ id: 2, state: 'pending', kind: 'run', image: 'b:1', node_name: 'node-7', usage: null }),
    row({ id: 3, state: 'failed', kind: 'render', image: 'a:1', reason: 'OOMKilled', usage: null }),
    row({ id: 4, state: 'lost', kind: 'build', image: 'b:1', usage: null }),
    row({ id: 5, state: 'running', kind: 'run', image: 'a:1', usage: { t: 't', cpu_millicores: 100, memory_bytes: 9 * MiB } }),
  ];
  const ids = (rs: ProcessRow[]) => rs.map((r) => r.id);

  it('filters by state group, kind, content, image and words (all must match)', () => {
    expect(ids(filterRows(rows, { ...NO_FILTERS, state: 'active' }))).toEqual([1, 2, 5]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, state: 'failed' }))).toEqual([3, 4]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, state: 'waiting' }))).toEqual([2]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, kind: 'run' }))).toEqual([2, 5]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, image: 'a:1', kind: 'build' }))).toEqual([1]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, content: rows[0]!.content_guid }))).toEqual([1, 4]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, text: '  SALES  ' }))).toEqual([1]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, text: 'oomkilled render' }))).toEqual([3]);
    expect(ids(filterRows(rows, { ...NO_FILTERS, text: 'node-7 b:1' }))).toEqual([2]);
    expect(filterRows(rows, { ...NO_FILTERS, text: 'nothing' })).toEqual([]);
  });

  it('sorts by state (running first), by usage, by age; ties newest first', () => {
    expect(ids(sortRows([...rows], { column: 'state', dir: 'asc' }))).toEqual([5, 1, 2, 3, 4]);
    expect(ids(sortRows([...rows], { column: 'cpu', dir: 'desc' }))).toEqual([1, 5, 4, 3, 2]);
    expect(ids(sortRows([...rows], { column: 'memory', dir: 'asc' })).slice(-2)).toEqual([1, 5]);
    // Age ascending = youngest first (queued 06:05 is younger than 06:01).
    expect(ids(sortRows([...rows], { column: 'age', dir: 'asc' }))).toEqual([5, 4, 3, 2, 1]);
    expect(ids(sortRows([...rows], { column: 'age', dir: 'desc' }))).toEqual([1, 2, 3, 4, 5]);
  });

  it('a first click sorts usage biggest first, other columns A→Z; a second click reverses', () => {
    expect(nextSort({ column: 'state', dir: 'asc' }, 'cpu')).toEqual({ column: 'cpu', dir: 'desc' });
    expect(nextSort({ column: 'state', dir: 'asc' }, 'content')).toEqual({ column: 'content', dir: 'asc' });
    expect(nextSort({ column: 'content', dir: 'asc' }, 'content')).toEqual({ column: 'content', dir: 'desc' });
  });
});

describe('figures', () => {
  it('CPU and memory now, as a share of request and limit', () => {
    const r = row();
    expect(cpuCell(r)).toEqual({ now: '250m', detail: '50% of request · 25% of limit', ofLimit: 25 });
    expect(memCell(r)).toEqual({ now: '300 MiB', detail: '29% of limit', ofLimit: 29.3 });
    expect(cpuCell({ ...r, usage: { t: 't', cpu_millicores: 1500, memory_bytes: 0 }, resources: { ...r.resources, cpu_limit_millicores: null } })).toEqual({
      now: '1.5 cores',
      detail: '300% of request',
      ofLimit: null,
    });
    expect(cpuCell({ ...r, usage: null })).toBeNull();
    expect(cpuCell({ ...r, usage: { t: 't', cpu_millicores: 12.4, memory_bytes: 0 } })!.detail).toBe('2.5% of request · 1.2% of limit');
  });

  it('durations and chart ticks', () => {
    expect([durationText(4_400), durationText(75_000), durationText(3_600_000 + 300_000), durationText(2 * 86_400_000 + 3_600_000)]).toEqual(['4s', '1m 15s', '1h 5m', '2d 1h']);
    expect(niceTicks(1080, 'cpu')).toEqual([0, 250, 500, 750, 1000, 1250]);
    expect(niceTicks(1.08 * 1024 * MiB, 'memory')).toEqual([0, 256, 512, 768, 1024, 1280].map((m) => m * MiB));
    expect(niceTicks(0, 'cpu')).toEqual([0, 10]);
  });
});

describe('the live store', () => {
  function store() {
    const frames: (() => void)[] = [];
    const s = new ProcessStore((f) => frames.push(f));
    return { s, frames, frame: () => frames.splice(0).forEach((f) => f()) };
  }
  const list = (rows: ProcessRow[]): ProcessList => ({ now: new Date().toISOString(), rows, truncated: false, metrics: status });

  it('applies everything that arrived within a frame as one batch; unchanged rows keep their object', () => {
    const { s, frames, frame } = store();
    const a = row({ id: 101 });
    const b = row({ id: 102 });
    let notified = 0;
    s.subscribe(() => notified++);
    s.replace(list([a, b]));
    s.applyMetrics({ t: 't', rows: [{ id: 101, cpu_millicores: 700, memory_bytes: 5, sample_time: 's2' }], gone: [102], status });
    expect(frames).toHaveLength(1);
    expect(s.getSnapshot().rows).toEqual([]);
    frame();
    expect(notified).toBe(1);
    const [ra, rb] = s.getSnapshot().rows;
    expect(ra!.usage).toEqual({ t: 's2', cpu_millicores: 700, memory_bytes: 5 });
    expect(rb!.usage).toBeNull();
    // The same list again: only what differs from it gets a new object.
    s.replace(list([a, { ...b }]));
    frame();
    const [ra2, rb2] = s.getSnapshot().rows;
    expect(ra2).toBe(a);
    expect(rb2).not.toBe(rb);
    expect(s.getSnapshot().version).toBe(2);
  });

  it('merges a job status it has; says no for one it has not (the list is refetched then)', () => {
    const { s, frame } = store();
    const a = row({ id: 201 });
    s.replace(list([a]));
    frame();
    const membership = s.getSnapshot().membership;
    expect(s.mergeJob({ ...job({ key: a.key }), state: 'succeeded', finished_time: '2026-12-06T07:00:00.000Z' })).toBe(true);
    expect(s.mergeJob(job({ key: 'unknown' }))).toBe(false);
    frame();
    const r = s.getSnapshot().rows[0]!;
    expect(r.state).toBe('succeeded');
    expect(r.usage).toBeNull();
    expect(r.content_name).toBe(a.content_name);
    expect(s.getSnapshot().membership).toBe(membership);
    s.replace(list([]));
    frame();
    expect(s.getSnapshot().rows).toEqual([]);
    expect(s.getSnapshot().membership).toBe(membership + 1);
  });
});

describe('a job’s phases and words', () => {
  it('phases with durations; the next one is current; after the end the missing ones are skipped', () => {
    const j = job({ state: 'pending', created_time: '2026-12-06T06:00:02.000Z', scheduled_time: '2026-12-06T06:00:05.000Z' });
    const p = phases(j);
    expect(p.map((x) => [x.id, x.took, x.current, x.skipped])).toEqual([
      ['queued', null, false, false],
      ['created', 2000, false, false],
      ['scheduled', 3000, false, false],
      ['pulled', null, true, false],
      ['started', null, false, false],
      ['ready', null, false, false],
      ['finished', null, false, false],
    ]);
    const ended = phases({ ...j, state: 'failed', finished_time: '2026-12-06T06:00:09.000Z' });
    expect(ended.filter((x) => x.skipped).map((x) => x.id)).toEqual(['pulled', 'started', 'ready']);
    expect(ended.at(-1)!.took).toBe(4000);
  });

  it('says what a starting job waits for, and how one ended', () => {
    expect(launchProgress(job())).toMatch(/queue/);
    expect(launchProgress(job({ state: 'pending', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }))).toBe(
      'Waiting for a node to run it. Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.',
    );
    expect(launchProgress(job({ state: 'pending', scheduled_time: 't', node_name: 'n1' }))).toBe('Pulling the image img:1 on n1…');
    expect(launchProgress(job({ state: 'pending', scheduled_time: 't', reason: 'ImagePullBackOff' }))).toMatch(/Cannot get the image img:1 \(ImagePullBackOff\).*Check the image name/);
    expect(launchProgress(job({ state: 'running', kind: 'run' }))).toMatch(/readiness/);
    expect(launchProgress(job({ state: 'running', kind: 'build' }))).toBeNull();
    expect(outcome(job({ state: 'failed', reason: 'OOMKilled', exit_code: 137 }))).toMatch(/out of memory \(exit code 137\).*Raise its memory limit/);
    expect(outcome(job({ state: 'failed', reason: 'Error', exit_code: 3 }))).toBe('Failed: Error (exit code 3).');
    expect(outcome(job({ state: 'cancelled', message: 'Cancelled by session #1.' }))).toBe('Cancelled by session #1.');
    expect(outcome(job({ state: 'running' }))).toBeNull();
  });
});
