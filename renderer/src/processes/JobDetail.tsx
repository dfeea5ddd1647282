// One job: what it is doing now (in words while it starts), its phases with their durations, its
// CPU and memory history against its request and limit, its log (followed while it runs, kept
// after the pod is gone), its Kubernetes events, and cancel. Live: jobs.changed for this job
// refetches it; processes.metrics adds its new samples to the charts without a refetch.
import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import type { JobEvent, JobView } from '../../../shared/jobs';
import { isTerminal } from '../../../shared/launcher-state';
import type { JobMetrics, MetricSample } from '../../../shared/processes';
import { Dialog } from '../components/Dialog';
import { exact } from '../format';
import { useLive } from '../hooks';
import { call, subscribe } from '../transport';
import { MetricsNotice, useNow } from './ProcessesPage';
import { StateBadge } from './ProcessTable';
import { launchProgress, outcome, phases } from './timeline';
import { durationText } from './view';

const UsageCharts = lazy(() => import('./UsageCharts'));

export function JobDetail({ guid, jobKey }: { guid: string; jobKey: string }) {
  const fetchJob = useCallback(() => call('jobs.get', { guid, key: jobKey }), [guid, jobKey]);
  const { data: job, error, set: setJob } = useLive(fetchJob, ['jobs.changed'], { batchMs: 100, accept: (_e, p) => (p as { key: string }).key === jobKey });
  const [title, setTitle] = useState<string | undefined>();
  const [confirm, setConfirm] = useState(false);
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const now = useNow(1000);

  useEffect(() => {
    call('content.get', { guid }).then(
      (d) => setTitle(d.content.title || d.content.name),
      () => setTitle(undefined),
    );
  }, [guid]);

  if (!job)
    return (
      <div className="page">
        <a href="#/processes" className="back-link">
          ← Processes
        </a>
        {error ? (
          <div className="banner error" role="alert">
            Could not load job {jobKey}: {error} It may have been removed, or you may not be allowed to see its content.
          </div>
        ) : (
          <div className="empty">Loading…</div>
        )}
      </div>
    );

  const ended = isTerminal(job.state);
  const progress = launchProgress(job);
  const result = outcome(job);
  return (
    <div className="page">
      <a href="#/processes" className="back-link">
        ← Processes
      </a>
      <div className="page-head">
        <div>
          <h1>
            {title ?? 'Job'} · {job.kind} <StateBadge state={job.state} />
          </h1>
          <p>
            Job <span className="mono">{job.key}</span> · {job.tag} · <span className="mono">{job.image}</span>
            {job.node_name && <> · on {job.node_name}</>}
            {job.k8s_name && (
              <>
                {' '}
                · Kubernetes Job <span className="mono">{job.k8s_name}</span>
              </>
            )}
          </p>
        </div>
        <div className="toolbar">
          <a className="button" href={`#/content/${guid}`}>
            Content
          </a>
          {!ended && (
            <button type="button" className="danger" onClick={() => setConfirm(true)}>
              Cancel job…
            </button>
          )}
        </div>
      </div>
      {notice && (
        <div className={`banner dismissable ${notice.kind}`} role="status">
          <span>{notice.text}</span>
          <button className="ghost small" onClick={() => setNotice(undefined)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      {progress && (
        <div className="banner info progress" role="status" data-testid="launch-progress">
          <span className="spinner" aria-hidden /> {progress}
        </div>
      )}
      {result && (
        <div className={`banner ${job.state === 'succeeded' ? 'ok' : job.state === 'cancelled' ? 'info' : 'error'}`} data-testid="job-outcome">
          {result}
        </div>
      )}

      <section className="card section-card" aria-labelledby="h-timeline">
        <div className="card-body">
          <h2 id="h-timeline">Timeline</h2>
          <Timeline job={job} now={now} />
        </div>
      </section>

      <Usage job={job} guid={guid} />

      <div className="detail-grid even">
        <LogView job={job} guid={guid} />
        <KubeEvents job={job} guid={guid} />
      </div>

      {confirm && (
        <Dialog
          title="Cancel this job?"
          narrow
          onClose={() => setConfirm(false)}
          footer={
            <>
              <button type="button" onClick={() => setConfirm(false)} data-autofocus>
                Keep it
              </button>
              <button
                type="button"
                className="danger solid"
                onClick={() => {
                  setConfirm(false);
                  call('jobs.cancel', { guid, key: job.key }).then(
                    (j) => setJob(j),
                    (e: Error) => setNotice({ kind: 'error', text: `Could not cancel: ${e.message}` }),
                  );
                }}
              >
                Cancel job
              </button>
            </>
          }
        >
          <p>
            The {job.kind} job <span className="mono">{job.key}</span> of {title ?? 'this content'} is stopped: its Kubernetes Job and pod are deleted and it ends as
            cancelled. Its log so far is kept. This cannot be undone{job.kind === 'run' ? '; the app stops answering until it is started again' : ''}.
          </p>
        </Dialog>
      )}
    </div>
  );
}

// What each stretch of the bar is: the time before the phase that ends it.
const LEGEND = [
  ['created', 'in the queue'],
  ['scheduled', 'waiting for a node'],
  ['pulled', 'pulling the image'],
  ['started', 'starting'],
  ['ready', 'getting ready'],
  ['finished', 'running'],
] as const;

function Timeline({ job, now }: { job: JobView; now: number }) {
  const list = phases(job);
  const start = Date.parse(job.queued_time);
  const end = job.finished_time ? Date.parse(job.finished_time) : Math.max(now, start);
  const total = Math.max(1, end - start);
  const happened = list.filter((p) => p.at);
  return (
    <>
      <div className="timeline-bar" aria-hidden>
        {happened.slice(1).map((p, i) => {
          const from = Date.parse(happened[i]!.at!);
          return <span key={p.id} className={`seg seg-${p.id}`} style={{ left: `${((from - start) / total) * 100}%`, width: `${Math.max(0.4, ((Date.parse(p.at!) - from) / total) * 100)}%` }} title={`${p.label}: ${durationText(p.took ?? 0)}`} />;
        })}
        {!job.finished_time && happened.length > 0 && (
          <span className="seg seg-now" style={{ left: `${((Date.parse(happened[happened.length - 1]!.at!) - start) / total) * 100}%`, right: 0 }} />
        )}
      </div>
      <ul className="timeline-legend" aria-hidden>
        {LEGEND.map(([id, label]) => (
          <li key={id}>
            <span className={`swatch seg-${id}`} />
            {label}
          </li>
        ))}
      </ul>
      <ol className="timeline" data-testid="timeline">
        {list.map((p) => (
          <li key={p.id} className={p.at ? 'done' : p.current ? 'current' : p.skipped ? 'skipped' : 'later'} data-phase={p.id}>
            <span className="tl-dot" aria-hidden />
            <span className="tl-label">{p.label}</span>
            <span className="tl-time" title={p.at ? exact(p.at) : undefined}>
              {p.at ? new Date(p.at).toLocaleTimeString() : p.current ? 'now' : p.skipped ? 'did not happen' : '—'}
            </span>
            <span className="tl-took">
              {p.took !== null ? `+${durationText(p.took)}` : p.current && happened.length ? `${p.id === 'finished' ? 'running' : 'waiting'} ${durationText(now - Date.parse(happened[happened.length - 1]!.at!))}` : ''}
            </span>
          </li>
        ))}
      </ol>
      <p className="hint">
        Total {durationText(end - start)}
        {job.finished_time ? ' from queued to finished' : ' so far'}.
      </p>
    </>
  );
}

function Usage({ job, guid }: { job: JobView; guid: string }) {
  const [m, setM] = useState<JobMetrics | undefined>();
  const [error, setError] = useState<string | undefined>();
  const id = useRef<number | undefined>(undefined);
  const state = job.state;
  useEffect(() => {
    let alive = true;
    call('jobs.metrics', { guid, key: job.key }).then(
      (r) => {
        if (!alive) return;
        id.current = r.id;
        setM(r);
        setError(undefined);
      },
      (e: Error) => alive && setError(e.message),
    );
    return () => {
      alive = false;
    };
    // state: refetch when the job moves (an OOM kill, the end).
  }, [guid, job.key, state]);
  const lastT = useRef<string | undefined>(undefined);
  lastT.current = m?.samples.at(-1)?.t;
  const active = useRef(false);
  active.current = !isTerminal(state);
  const key = job.key;
  useEffect(
    () =>
      subscribe('processes.metrics', (e) => {
        const row = e.rows.find((r) => r.id === id.current);
        if (!row && id.current !== undefined && active.current) {
          // The event carries only the rows whose figures changed: a job using exactly the same CPU
          // and memory as last time still got a new sample, so read the ones since the last shown.
          call('jobs.metrics', { guid, key, ...(lastT.current ? { since: lastT.current } : {}) }).then(
            (r) => setM((cur) => (cur && cur.id === r.id ? { ...cur, samples: [...cur.samples, ...r.samples.filter((s) => !cur.samples.some((c) => c.t === s.t))] } : cur)),
            () => undefined,
          );
        }
        setM((cur) => {
          if (!cur) return cur;
          const next = { ...cur, metrics: e.status };
          if (!row || cur.samples.some((s) => s.t === row.sample_time)) return next;
          const sample: MetricSample = { t: row.sample_time, cpu_millicores: row.cpu_millicores, memory_bytes: row.memory_bytes, resolution: 'raw' };
          return { ...next, samples: [...cur.samples, sample] };
        });
      }),
    [guid, key],
  );
  return (
    <section className="card section-card" aria-labelledby="h-usage">
      <div className="card-body">
        <h2 id="h-usage">CPU and memory</h2>
        {error && <div className="banner error">Could not load its usage: {error}</div>}
        {m && <MetricsNotice status={m.metrics} />}
        {m && m.oom && (
          <p className="field-error" data-testid="oom-note">
            Killed for running out of memory at {new Date(m.oom.t).toLocaleTimeString()}
            {m.oom.message ? `: ${m.oom.message.replace(/\.$/, '')}` : ''}.
          </p>
        )}
        {m ? (
          <Suspense fallback={<div className="chart-empty">Loading charts…</div>}>
            <UsageCharts ended={isTerminal(job.state)} samples={m.samples} resources={m.resources} oom={m.oom} />
          </Suspense>
        ) : (
          !error && <div className="chart-empty">Loading…</div>
        )}
      </div>
    </section>
  );
}

type LogState = { lines: string[]; source: 'cluster' | 'store' | 'none' | 'following'; truncated: boolean };

/**
 * The job's log. In a browser it is followed live from the server's tail stream (Connect's
 * …/jobs/{key}/tail) while the pod runs; in the desktop app (no HTTP) it is reread on each change
 * of the job and every few seconds while it runs. After the pod is gone, the copy the store kept.
 */
function LogView({ job, guid }: { job: JobView; guid: string }) {
  const [log, setLog] = useState<LogState | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);
  const phase = isTerminal(job.state) ? 'ended' : job.started_time ? 'running' : 'waiting';
  const key = job.key;

  useEffect(() => {
    let alive = true;
    const abort = new AbortController();
    const read = () =>
      call('jobs.log', { guid, key, maxLines: 5000 }).then(
        (l) => alive && (setLog({ lines: l.lines, source: l.source, truncated: l.truncated }), setError(undefined)),
        (e: Error) => alive && setError(e.message),
      );
    if (phase !== 'running') {
      void read();
      return () => {
        alive = false;
      };
    }
    if (window.offhost) {
      void read();
      const t = setInterval(read, 3000);
      return () => {
        alive = false;
        clearInterval(t);
      };
    }
    void (async () => {
      try {
        const res = await fetch(`__api__/v1/content/${encodeURIComponent(guid)}/jobs/${encodeURIComponent(key)}/tail`, { credentials: 'same-origin', signal: abort.signal });
        if (!res.ok || !res.body) throw new Error(`the server answered ${res.status}`);
        const lines: string[] = [];
        setLog({ lines: [], source: 'following', truncated: false });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let rest = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done || !alive) break;
          const parts = (rest + value).split('\n');
          rest = parts.pop() ?? '';
          for (const p of parts) if (p) lines.push((JSON.parse(p) as { data: string }).data);
          if (lines.length > 5000) lines.splice(0, lines.length - 5000);
          setLog({ lines: [...lines], source: 'following', truncated: false });
        }
        // The stream ends with the pod: read what the store kept.
        if (alive) void read();
      } catch (e) {
        if (alive && (e as Error).name !== 'AbortError') {
          setError((e as Error).message);
          void read();
        }
      }
    })();
    return () => {
      alive = false;
      abort.abort();
    };
  }, [guid, key, phase]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [log, follow]);

  const where =
    log?.source === 'following'
      ? 'following the pod live'
      : log?.source === 'cluster'
        ? 'from the pod'
        : log?.source === 'store'
          ? 'the copy kept after the pod ended'
          : isTerminal(job.state)
            ? 'nothing was kept'
            : job.started_time
              ? 'the pod has printed nothing yet'
              : 'the log starts when the container does';
  return (
    <section className="card" aria-labelledby="h-log">
      <div className="card-body">
        <div className="section-head">
          <h2 id="h-log">Log</h2>
          <label className="checkbox">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          </label>
        </div>
        <p className="hint" data-testid="log-source">
          {log ? `${log.lines.length} lines · ${where}` : 'Loading…'}
          {log?.truncated && ' · older lines left out'}
        </p>
        {error && <div className="banner error">Could not read the log: {error}</div>}
        <pre className="log" ref={box} tabIndex={0} aria-label="Job log" data-testid="log">
          {log && log.lines.length > 0 ? log.lines.join('\n') : <span className="muted">No output yet.</span>}
        </pre>
      </div>
    </section>
  );
}

function KubeEvents({ job, guid }: { job: JobView; guid: string }) {
  const [events, setEvents] = useState<JobEvent[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const stamp = `${job.state}|${job.scheduled_time}|${job.started_time}|${job.finished_time}|${job.reason}`;
  useEffect(() => {
    let alive = true;
    call('jobs.events', { guid, key: job.key }).then(
      (e) => alive && (setEvents(e), setError(undefined)),
      (e: Error) => alive && setError(e.message),
    );
    return () => {
      alive = false;
    };
  }, [guid, job.key, stamp]);
  return (
    <section className="card" aria-labelledby="h-events">
      <div className="card-body">
        <h2 id="h-events">Kubernetes events</h2>
        {error && <div className="banner error">Could not read the events: {error}</div>}
        {events && events.length === 0 && (
          <p className="hint">{isTerminal(job.state) ? 'None left: Kubernetes keeps events for about an hour, and its Job is removed 10 minutes after it ends.' : 'None yet.'}</p>
        )}
        {events && events.length > 0 && (
          // Focusable: a long list scrolls, and the keyboard must reach it.
          <ul className="events" data-testid="events" tabIndex={0} aria-label="Kubernetes events of this job">
            {events.map((e, i) => (
              <li key={i} className={e.type === 'Warning' ? 'warning' : undefined}>
                <span className="ev-time" title={e.time ? exact(e.time) : undefined}>
                  {e.time ? new Date(e.time).toLocaleTimeString() : '—'}
                </span>
                <span className="ev-reason">
                  {e.type === 'Warning' && <span className="sr-only">Warning: </span>}
                  {e.reason}
                </span>
                <span className="ev-message">{e.message}</span>
                <span className="ev-object mono">{e.object}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
