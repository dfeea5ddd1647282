// The Processes table itself: its columns over the virtualized grid. Pure presentation (rows in,
// selection and sort out), so the benchmark renders it with 5,000 made-up rows.
import { useMemo } from 'react';
import type { ProcessRow } from '../../../shared/processes';
import { VirtualTable, type Column } from '../components/VirtualTable';
import { exact } from '../format';
import { bornAt, cpuCell, durationText, memCell, STATE_TONE, type Sort, type SortColumn, type UsageCell } from './view';

export const ROW_HEIGHT = 46;

export function jobHref(r: { content_guid: string; key: string }): string {
  return `#/processes/${r.content_guid}/${r.key}`;
}

export function StateBadge({ state, title }: { state: string; title?: string }) {
  return (
    <span className={`state-badge ${STATE_TONE[state] ?? ''}`} title={title}>
      <span className="dot" aria-hidden />
      {state}
    </span>
  );
}

function Usage({ cell, what }: { cell: UsageCell | null; what: string }) {
  if (!cell) return <span className="muted">—</span>;
  const pct = cell.ofLimit;
  return (
    <div className="usage">
      <div className="usage-now">
        <b>{cell.now}</b>
        {pct !== null && (
          <span className={`meter${pct >= 90 ? ' hot' : pct >= 70 ? ' warm' : ''}`} aria-hidden>
            <span style={{ width: `${Math.min(100, pct)}%` }} />
          </span>
        )}
      </div>
      <div className="cell-sub" aria-label={cell.detail ? `${what}: ${cell.detail}` : undefined}>
        {cell.detail || 'no limit'}
      </div>
    </div>
  );
}

export function ProcessTable(props: {
  rows: readonly ProcessRow[];
  /** Now on the server's clock (ms), for ages. */
  now: number;
  sort: Sort;
  onSort: (c: SortColumn) => void;
  selected?: string;
  onSelect: (key: string) => void;
  onOpen: (key: string) => void;
  empty: React.ReactNode;
}) {
  const { now } = props;
  const columns = useMemo<Column<ProcessRow>[]>(
    () => [
      {
        id: 'content',
        header: 'Content',
        width: 'minmax(160px, 2fr)',
        sortable: true,
        cell: (r) => (
          <div className="cell-stack">
            <a className="row-link cell-title" href={jobHref(r)} tabIndex={-1}>
              {r.content_title || r.content_name}
            </a>
            <span className="cell-sub mono">{r.key}</span>
          </div>
        ),
        title: (r) => `${r.content_title || r.content_name} · job ${r.key}`,
      },
      { id: 'kind', header: 'Kind', width: '74px', sortable: true, cell: (r) => r.kind },
      { id: 'image', header: 'Image', width: 'minmax(140px, 1.4fr)', sortable: true, cell: (r) => <span className="mono ellipsis">{r.image}</span>, title: (r) => r.image },
      { id: 'node', header: 'Node', width: 'minmax(110px, 1fr)', sortable: true, cell: (r) => (r.node_name ? <span className="ellipsis">{r.node_name}</span> : <span className="muted">—</span>), title: (r) => r.node_name ?? 'not on a node yet' },
      {
        id: 'state',
        header: 'State',
        width: '108px',
        sortable: true,
        cell: (r) => <StateBadge state={r.state} />,
        title: (r) => [r.reason, r.message].filter(Boolean).join(': ') || undefined,
      },
      {
        id: 'age',
        header: 'Age',
        width: '84px',
        sortable: true,
        align: 'right',
        cell: (r) => durationText(now - Date.parse(bornAt(r))),
        title: (r) => exact(bornAt(r)),
      },
      { id: 'cpu', header: 'CPU', width: '206px', sortable: true, cell: (r) => <Usage cell={cpuCell(r)} what="CPU" /> },
      { id: 'memory', header: 'Memory', width: '140px', sortable: true, cell: (r) => <Usage cell={memCell(r)} what="Memory" /> },
      { id: 'restarts', header: 'Restarts', width: '92px', sortable: true, align: 'right', cell: (r) => r.restarts },
    ],
    [now],
  );
  return (
    <VirtualTable
      label="Jobs"
      rows={props.rows}
      rowKey={rowKey}
      columns={columns}
      rowHeight={ROW_HEIGHT}
      sort={props.sort}
      onSort={(c) => props.onSort(c as SortColumn)}
      selected={props.selected}
      onSelect={props.onSelect}
      onOpen={props.onOpen}
      empty={props.empty}
      rowClass={rowClass}
    />
  );
}

const rowKey = (r: ProcessRow) => r.key;
const rowClass = (r: ProcessRow) => `st-${STATE_TONE[r.state] ?? 'other'}`;
