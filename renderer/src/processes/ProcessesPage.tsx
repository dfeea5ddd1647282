// Processes: every content job, active and of the last day, with where it runs and what it uses
// now. Live from the event stream (see useProcesses.ts); the filters, sort, selection and scroll
// survive a visit to a job and back.
import { memo, useCallback, useDeferredValue, useEffect, useMemo, useState } from 'react';
import type { MetricsStatus, ProcessRow, ProcessSummary } from '../../../shared/processes';
import { useLive } from '../hooks';
import { call } from '../transport';
import { ProcessTable, jobHref } from './ProcessTable';
import { useProcesses } from './useProcesses';
import { cpuText, DEFAULT_SORT, filterRows, memText, NO_FILTERS, nextSort, sortRows, STATE_FILTERS, type Filters, type Sort, type StateFilter } from './view';

// Kept across visits (the page unmounts while a job is open).
const memory: { filters: Filters; sort: Sort; selected?: string } = { filters: NO_FILTERS, sort: DEFAULT_SORT };

/** A clock that ticks every `ms` (ages in the table). */
export function useNow(ms: number, skewMs = 0): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now + skewMs;
}

export function ProcessesPage() {
  const { rows, membership, loaded, truncated, metrics, skewMs, error } = useProcesses();
  const [filters, setFiltersState] = useState(memory.filters);
  const [sort, setSortState] = useState(memory.sort);
  const [selected, setSelectedState] = useState(memory.selected);
  const setFilters = useCallback((f: Filters) => setFiltersState((memory.filters = f)), []);
  const setSort = (s: Sort) => setSortState((memory.sort = s));
  const setSelected = useCallback((k: string) => setSelectedState((memory.selected = k)), []);
  const now = useNow(5000, skewMs);
  // Typing in the search box stays responsive with thousands of rows.
  const text = useDeferredValue(filters.text);

  const shown = useMemo(() => sortRows(filterRows(rows, { ...filters, text }), sort), [rows, filters, text, sort]);
  // Recomputed when jobs come or go, not on every usage change.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const choices = useMemo(() => contentAndImages(rows), [membership]);
  const open = useCallback((key: string) => {
    const r = shown.find((x) => x.key === key);
    if (r) window.location.hash = jobHref(r);
  }, [shown]);

  const filtered = isFiltered(filters);
  const active = rows.filter((r) => r.state === 'queued' || r.state === 'creating' || r.state === 'pending' || r.state === 'running').length;

  return (
    <div className="page fill">
      <div className="page-head">
        <div>
          <h1>Processes</h1>
          <p>Every build, render and app run as a Kubernetes Job: where it runs and what it uses now. Select a row and press Enter to see its timeline, usage history, log and events.</p>
        </div>
      </div>
      <Summary />
      <MetricsNotice status={metrics} />
      {error && (
        <div className="banner error" role="alert">
          Could not load the jobs: {error}
        </div>
      )}
      <FilterBar filters={filters} choices={choices} onChange={setFilters} />
      <div className="table-card card">
        <ProcessTable
          rows={shown}
          now={now}
          sort={sort}
          onSort={(c) => setSort(nextSort(sort, c))}
          selected={selected}
          onSelect={setSelected}
          onOpen={open}
          empty={<Empty loaded={loaded} filtered={Boolean(filtered)} onClear={() => setFilters(NO_FILTERS)} />}
        />
      </div>
      <div className="table-foot hint" aria-live="polite">
        {loaded && (
          <>
            {shown.length === rows.length ? `${rows.length} jobs` : `${shown.length} of ${rows.length} jobs`} · {active} active · finished jobs of the last 24 hours
            {truncated && ' (the oldest finished ones are left out)'}
          </>
        )}
      </div>
    </div>
  );
}


/** The filters: labelled controls; memoized, so a burst of row changes does not re-render 700 options. */
const FilterBar = memo(function FilterBar({ filters, choices, onChange }: { filters: Filters; choices: Choices; onChange: (f: Filters) => void }) {
  const filtered = isFiltered(filters);
  return (
    <div className="filters" role="search" aria-label="Filter jobs">
      <label className="filter">
        <span>Search</span>
        <input type="search" placeholder="Content, job key, image, node…" value={filters.text} onChange={(e) => onChange({ ...filters, text: e.target.value })} />
      </label>
      <label className="filter">
        <span>State</span>
        <select value={filters.state} onChange={(e) => onChange({ ...filters, state: e.target.value as StateFilter })}>
          {STATE_FILTERS.map((s) => (
            <option key={s.value} value={s.value}>
              {s.label}
            </option>
          ))}
        </select>
      </label>
      <label className="filter">
        <span>Kind</span>
        <select value={filters.kind} onChange={(e) => onChange({ ...filters, kind: e.target.value as Filters['kind'] })}>
          <option value="all">All kinds</option>
          <option value="build">Build</option>
          <option value="render">Render</option>
          <option value="run">Run (apps, APIs)</option>
        </select>
      </label>
      <label className="filter">
        <span>Content</span>
        <select value={filters.content} onChange={(e) => onChange({ ...filters, content: e.target.value })}>
          <option value="">All content</option>
          {choices.content.map(([guid, label]) => (
            <option key={guid} value={guid}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <label className="filter">
        <span>Image</span>
        <select value={filters.image} onChange={(e) => onChange({ ...filters, image: e.target.value })}>
          <option value="">All images</option>
          {choices.images.map((i) => (
            <option key={i} value={i}>
              {i}
            </option>
          ))}
        </select>
      </label>
      {filtered && (
        <button type="button" className="ghost small clear" onClick={() => onChange(NO_FILTERS)}>
          Clear filters
        </button>
      )}
    </div>
  );
});

const isFiltered = (f: Filters) => f.state !== 'all' || f.kind !== 'all' || Boolean(f.content || f.image || f.text);
type Choices = ReturnType<typeof contentAndImages>;

function Empty({ loaded, filtered, onClear }: { loaded: boolean; filtered: boolean; onClear: () => void }) {
  if (!loaded) return <p>Loading jobs…</p>;
  if (filtered)
    return (
      <>
        <h2>No job matches these filters</h2>
        <p>
          <button type="button" onClick={onClear}>
            Clear filters
          </button>
        </p>
      </>
    );
  return (
    <>
      <h2>No jobs yet</h2>
      <p>
        Jobs appear here when content is deployed, rendered or started. Go to <a href="#/content">Content</a> to upload a bundle and deploy it, or deploy with rsconnect.
      </p>
    </>
  );
}

function contentAndImages(rows: readonly ProcessRow[]) {
  const content = new Map<string, string>();
  const images = new Set<string>();
  for (const r of rows) {
    content.set(r.content_guid, r.content_title || r.content_name);
    images.add(r.image);
  }
  return {
    content: [...content].sort((a, b) => a[1].localeCompare(b[1])),
    images: [...images].sort(),
  };
}

/** The strip above the table: what runs, waits and failed, and what it asks of the cluster. */
const Summary = memo(function Summary() {
  const fetchSummary = useCallback(() => call('processes.summary'), []);
  const { data, error } = useLive(fetchSummary, ['jobs.changed', 'processes.metrics'], { batchMs: 1000 });
  if (error) return <div className="banner error">Could not load the summary: {error}</div>;
  return (
    <section className="summary" aria-label="Summary">
      <Stat label="Running" value={data?.running} tone="running" />
      <Stat label="Starting" value={data ? data.pending : undefined} sub={data && data.queued ? `${data.queued} queued` : undefined} tone="waiting" />
      <Stat label="Failed, last hour" value={data?.failed_last_hour} tone={data?.failed_last_hour ? 'failed' : undefined} />
      <Capacity data={data} what="cpu" />
      <Capacity data={data} what="memory" />
      <AppUsage data={data} />
    </section>
  );
});

function Stat(props: { label: string; value: number | undefined; sub?: string; tone?: string }) {
  return (
    <div className={`stat ${props.tone ?? ''}`}>
      <div className="stat-label">{props.label}</div>
      <div className="stat-value" data-testid={`stat-${props.label.toLowerCase().replace(/\W+/g, '-')}`}>
        {props.value ?? '…'}
      </div>
      {props.sub && <div className="stat-sub">{props.sub}</div>}
    </div>
  );
}

function Capacity({ data, what }: { data: ProcessSummary | undefined; what: 'cpu' | 'memory' }) {
  const label = what === 'cpu' ? 'CPU requested' : 'Memory requested';
  if (!data) return <Stat label={label} value={undefined} />;
  const fmt = what === 'cpu' ? cpuText : memText;
  const req = what === 'cpu' ? data.requested.cpu_millicores : data.requested.memory_bytes;
  const used = what === 'cpu' ? data.used.cpu_millicores : data.used.memory_bytes;
  const alloc = data.allocatable ? (what === 'cpu' ? data.allocatable.cpu_millicores : data.allocatable.memory_bytes) : null;
  const pct = alloc ? Math.min(100, (req / alloc) * 100) : null;
  return (
    <div className="stat capacity">
      <div className="stat-label">{label}</div>
      <div className="stat-value" data-testid={`stat-${what}-requested`}>
        {fmt(req)}
        {alloc !== null && <span className="stat-of"> of {fmt(alloc)}</span>}
      </div>
      {pct !== null ? (
        <div className="meter wide" role="meter" aria-label={`${label} of the cluster's allocatable`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(pct)}>
          <span style={{ width: `${pct}%` }} />
        </div>
      ) : (
        <div className="stat-sub" title={data.allocatable_error ?? undefined}>
          cluster size unknown
        </div>
      )}
      <div className="stat-sub">{data.metrics.available ? `using ${fmt(used)} now` : 'usage unavailable'}</div>
    </div>
  );
}

function AppUsage({ data }: { data: ProcessSummary | undefined }) {
  if (!data) return null;
  return (
    <div className="stat app">
      <div className="stat-label">This Offhost</div>
      <div className="stat-value small">
        {cpuText(data.app.cpu_millicores)} · {memText(data.app.rss_bytes)}
      </div>
      <div className="stat-sub">process {data.app.pid}</div>
    </div>
  );
}

/** When CPU and memory figures are missing: why, and what to do. Everything else still works. */
export function MetricsNotice({ status }: { status: MetricsStatus | undefined }) {
  if (!status || status.available || status.state === 'starting') return null;
  // The core's words say what failed and what to do; these are for when it gave none.
  const fallback: Record<string, string> = {
    unavailable: 'The cluster does not serve the metrics API (metrics.k8s.io): install metrics-server in the cluster; Offhost picks it up at its next reading.',
    error: 'Reading CPU and memory from the cluster failed; Offhost retries at each interval.',
    stale: 'CPU and memory have not been read for a while: the instance that samples them may be stopped or cut off from the cluster.',
    'not-configured': 'No cluster is configured, so there is nothing to measure.',
  };
  const todo = status.state === 'not-configured' ? ' Set OFFHOST_KUBECONFIG (or KUBECONFIG) and OFFHOST_NAMESPACE where Offhost runs, and restart it.' : '';
  return (
    <div className="banner warn" role="status" data-testid="metrics-notice">
      <b>CPU and memory unavailable.</b> {status.error ?? fallback[status.state] ?? ''}
      {todo} Jobs, logs and events work as usual.
    </div>
  );
}
