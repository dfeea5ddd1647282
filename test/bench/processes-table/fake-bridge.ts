// The desktop bridge (window.offhost) played in the page, so the real Processes page runs with
// no server: processes.list answers 5,000 active jobs, and the benchmark pushes processes.metrics
// bursts through subscribe() exactly as the core's events arrive. Imported before the page, so
// transport.ts picks it up.
import type { ProcessList, ProcessRow, ProcessSummary, ProcessesMetricsEvent, MetricsStatus } from '../../../shared/processes';

export const ROWS = 5000;
const T0 = Date.parse('2026-12-06T06:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const STATES = ['running', 'running', 'running', 'running', 'running', 'running', 'pending', 'creating', 'queued'] as const;
const KINDS = ['build', 'render', 'run'] as const;

export const status: MetricsStatus = {
  state: 'ok', available: true, error: null, last_sample_time: iso(T0), last_cycle_time: iso(T0), pods: ROWS, matched: ROWS,
  interval_seconds: 15, raw_retention_seconds: 3600, retention_seconds: 7 * 86400,
};

function row(i: number): ProcessRow {
  const state = STATES[i % STATES.length]!;
  const queued = T0 - (i % 3600) * 1000 - 60_000;
  const running = state === 'running';
  return {
    id: i + 1,
    key: `job${String(i + 1).padStart(6, '0')}`,
    kind: KINDS[i % 3]!,
    tag: 'build',
    bundle_id: String(i),
    environment_guid: '00000000-0000-4000-8000-000000000000',
    image: `ghcr.io/org/py3${10 + (i % 4)}:${1 + (i % 7)}`,
    k8s_name: `offhost-job-${i + 1}`,
    queued_time: iso(queued),
    state,
    created_time: state === 'queued' ? null : iso(queued + 500),
    scheduled_time: running || state === 'pending' ? iso(queued + 900) : null,
    image_pulled_time: running ? iso(queued + 2000) : null,
    started_time: running ? iso(queued + 2500) : null,
    ready_time: running && i % 3 === 2 ? iso(queued + 4000) : null,
    finished_time: null,
    exit_code: null,
    reason: state === 'pending' ? 'Unschedulable' : null,
    message: null,
    node_name: state === 'queued' || state === 'creating' ? null : `node-${i % 40}`,
    content_guid: `00000000-0000-4000-8000-${String(i % 700).padStart(12, '0')}`,
    content_name: `content-${i % 700}`,
    content_title: i % 2 ? `Report ${i % 700}` : null,
    restarts: 0,
    resources: { cpu_request_millicores: 500, cpu_limit_millicores: 1000, memory_request_bytes: 512 * 2 ** 20, memory_limit_bytes: 2 ** 30 },
    usage: running ? { t: iso(T0), cpu_millicores: (i * 37) % 1000, memory_bytes: ((i * 53) % 900) * 2 ** 20 } : null,
  };
}

export const rows = Array.from({ length: ROWS }, (_, i) => row(i));

let added = 0;
/** `n` new running jobs, younger than all the others (under the default sort they go above the rest of the running ones). */
export function addJobs(n: number): void {
  for (let k = 0; k < n; k++) {
    const r = row(ROWS + added++);
    const queued = T0 + 30_000 + added * 10;
    rows.unshift({ ...r, state: 'running', queued_time: iso(queued), created_time: iso(queued + 100), scheduled_time: iso(queued + 200), image_pulled_time: iso(queued + 300), started_time: iso(queued + 400), node_name: 'node-new', usage: { t: iso(T0), cpu_millicores: 100, memory_bytes: 100 * 2 ** 20 } });
  }
}

const summary: ProcessSummary = {
  now: iso(T0), running: rows.filter((r) => r.state === 'running').length, pending: 1100, queued: 555, failed_last_hour: 0,
  requested: { cpu_millicores: ROWS * 500, memory_bytes: ROWS * 512 * 2 ** 20 }, used: { cpu_millicores: 1_200_000, memory_bytes: 2 ** 40 },
  allocatable: { cpu_millicores: 4_000_000, memory_bytes: 16 * 2 ** 40, nodes: 1000, time: iso(T0) }, allocatable_error: null, metrics: status,
  app: { pid: 1, cpu_millicores: 30, rss_bytes: 200 * 2 ** 20, heap_used_bytes: 80 * 2 ** 20, uptime_seconds: 100 },
};

const listeners = new Map<string, Set<(p: unknown) => void>>();
export function emit(event: string, payload: unknown): void {
  for (const l of listeners.get(event) ?? []) l(payload);
}

let cycle = 0;
/** A metrics cycle that changes `n` running rows (spread over the list). */
export function burst(n: number): ProcessesMetricsEvent {
  cycle++;
  const running = rows.filter((r) => r.state === 'running');
  const changed = [];
  for (let k = 0; k < n; k++) {
    const r = running[(k * 7 + cycle * 13) % running.length]!;
    changed.push({ id: r.id, cpu_millicores: (r.id * 31 + cycle * 97) % 1000, memory_bytes: ((r.id + cycle * 11) % 900) * 2 ** 20, sample_time: iso(T0 + cycle * 15_000) });
  }
  return { t: iso(T0 + cycle * 15_000), rows: changed, gone: [], status };
}

window.offhost = {
  async call(method: string) {
    if (method === 'processes.list') return { result: { now: iso(T0 + 60_000), rows, truncated: false, metrics: status } satisfies ProcessList };
    if (method === 'processes.summary') return { result: summary };
    return { error: { code: 'NotFound', message: `the benchmark's bridge has no ${method}` } };
  },
  subscribe(event, listener) {
    if (!listeners.has(event)) listeners.set(event, new Set());
    listeners.get(event)!.add(listener);
    return () => listeners.get(event)!.delete(listener);
  },
};
