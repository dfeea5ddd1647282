// A job's CPU and memory over time, with its request and limit as lines and the moment it was
// killed for memory marked. Loaded on demand (recharts is big), so the app starts without it.
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { MetricSample, ResourceFigures } from '../../../shared/processes';
import { cpuText, memText, niceTicks } from './view';

interface Props {
  /** The job ended: the last figures are "last", not "now". */
  ended: boolean;
  samples: readonly MetricSample[];
  resources: ResourceFigures;
  oom: { t: string; message: string | null } | null;
}

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const timeShort = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

export default function UsageCharts({ ended, samples, resources, oom }: Props) {
  const data = samples.map((s) => ({ t: Date.parse(s.t), cpu: s.cpu_millicores, memory: s.memory_bytes }));
  const oomAt = oom ? Date.parse(oom.t) : null;
  return (
    <div className="charts">
      <Chart
        title="CPU"
        testId="chart-cpu"
        data={data}
        field="cpu"
        format={cpuText}
        request={resources.cpu_request_millicores}
        limit={resources.cpu_limit_millicores}
        oomAt={null}
        ended={ended}
      />
      <Chart
        title="Memory"
        testId="chart-memory"
        data={data}
        field="memory"
        format={memText}
        request={resources.memory_request_bytes}
        limit={resources.memory_limit_bytes}
        oomAt={oomAt}
        ended={ended}
      />
    </div>
  );
}

function Chart(props: {
  title: string;
  testId: string;
  data: { t: number; cpu: number; memory: number }[];
  field: 'cpu' | 'memory';
  format: (v: number) => string;
  request: number | null;
  limit: number | null;
  oomAt: number | null;
  ended: boolean;
}) {
  const { data, field, format, request, limit, oomAt } = props;
  const last = data[data.length - 1];
  const peak = data.reduce((m, d) => Math.max(m, d[field]), 0);
  const ticks = niceTicks(Math.max(peak, limit ?? 0, request ?? 0) * 1.08, field);
  const top = ticks[ticks.length - 1]!;
  const xs = data.map((d) => d.t);
  if (oomAt !== null) xs.push(oomAt);
  const lo = xs.length ? Math.min(...xs) : 0;
  const hi = xs.length ? Math.max(...xs) : 0;
  const span = hi - lo;
  // One point (or all at once) still gets a readable minute around it.
  const domain: [number, number] = span > 0 ? [lo, hi] : [lo - 30_000, hi + 30_000];
  const tick = span > 3 * 3600_000 ? timeShort : time;
  const when = props.ended ? 'last' : 'now';
  const summary = last
    ? `${props.title}: ${format(last[field])} ${when}, peak ${format(peak)}${request ? `, request ${format(request)}` : ''}${limit ? `, limit ${format(limit)}` : ''}; ${data.length} samples.`
    : `${props.title}: no samples yet.`;
  return (
    <figure className={`chart chart-${field}`} data-testid={props.testId} data-points={data.length}>
      <figcaption>
        <b>{props.title}</b> <span className="muted">{last ? `${format(last[field])} ${when} · peak ${format(peak)}` : 'no samples yet'}</span>
      </figcaption>
      <div className="chart-box" role="img" aria-label={summary}>
        {data.length === 0 ? (
          <div className="chart-empty">No samples yet: usage is read while the job runs, once per sampling interval.</div>
        ) : (
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={data} margin={{ top: 14, right: oomAt !== null ? 84 : 18, bottom: 4, left: 4 }}>
              <CartesianGrid strokeDasharray="3 3" vertical={false} />
              <XAxis dataKey="t" type="number" scale="time" domain={domain} tickFormatter={(v: number) => tick.format(v)} minTickGap={40} />
              <YAxis domain={[0, top]} ticks={ticks} tickFormatter={(v: number) => format(v)} width={76} />
              <Tooltip
                labelFormatter={(v) => time.format(Number(v))}
                formatter={(v) => [format(Number(v)), props.title]}
                contentStyle={{ background: 'var(--surface)', border: '1px solid var(--border)', borderRadius: 6, color: 'var(--text)' }}
              />
              {request ? <ReferenceLine y={request} className="ref-request" strokeDasharray="6 4" label={{ value: `request ${format(request)}`, position: 'insideBottomRight', className: 'ref-label', fill: 'var(--muted)' }} /> : null}
              {limit ? <ReferenceLine y={limit} className="ref-limit" label={{ value: `limit ${format(limit)}`, position: 'insideTopRight', className: 'ref-label limit', fill: 'var(--danger)' }} /> : null}
              {oomAt !== null ? <ReferenceLine x={oomAt} className="ref-oom" label={{ value: 'OOM killed', position: 'insideTopLeft', className: 'ref-label oom', fill: 'var(--danger)' }} /> : null}
              <Line type="monotone" dataKey={field} className="usage-line" dot={data.length <= 40} isAnimationActive={false} strokeWidth={2} />
            </LineChart>
          </ResponsiveContainer>
        )}
      </div>
    </figure>
  );
}

