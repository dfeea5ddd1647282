// A windowed table for thousands of rows: only the rows in view (plus a few) are in the DOM, each
// absolutely placed, so a 5,000-row list costs what a 40-row one does. An ARIA grid the keyboard
// drives (arrows, Page Up/Down, Home/End move the selection; Enter opens), with the selection kept
// by key across updates and the scroll position anchored to the first visible row when rows are
// inserted or removed above it (a live list does not jump under the reader).
import { flushSync } from 'react-dom';
import { memo, useCallback, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';

export interface Column<T> {
  id: string;
  header: string;
  /** A CSS grid track, e.g. "120px" or "minmax(160px, 2fr)". */
  width: string;
  align?: 'right';
  sortable?: boolean;
  cell: (row: T) => ReactNode;
  /** A tooltip for the cell (e.g. the exact value behind a rounded one). */
  title?: (row: T) => string | undefined;
}

export interface SortState {
  column: string;
  dir: 'asc' | 'desc';
}

export interface VirtualTableProps<T> {
  label: string;
  rows: readonly T[];
  rowKey: (row: T) => string;
  columns: readonly Column<T>[];
  rowHeight?: number;
  sort?: SortState;
  onSort?: (column: string) => void;
  selected?: string;
  onSelect?: (key: string) => void;
  onOpen?: (key: string) => void;
  /** Shown in place of the rows when there are none. */
  empty?: ReactNode;
  overscan?: number;
  /** Extra class on a row (e.g. its state). */
  rowClass?: (row: T) => string | undefined;
}

const HEADER_HEIGHT = 36;
/** Anchoring compares the first visible row with the one this many places below it. */
const ANCHOR_SPAN = 3;

export function VirtualTable<T>(props: VirtualTableProps<T>) {
  const { rows, rowKey, columns, label } = props;
  const rowHeight = props.rowHeight ?? 36;
  const overscan = props.overscan ?? 6;
  const id = useId().replace(/:/g, '');
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const template = columns.map((c) => c.width).join(' ');

  // Keep the viewport height current (the page can be resized).
  useLayoutEffect(() => {
    const el = scroller.current!;
    setViewport(el.clientHeight);
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Scroll anchoring: when rows are inserted or removed above the view, the rows in view all move
  // by the same number of places; then scroll by as much, so what the reader looks at stays put.
  // (When rows are re-sorted by a changing figure they move by different amounts: the view stays
  // where it is.) At the very top new rows simply show. The scroll position comes from state, so
  // nothing here forces a layout.
  const anchor = useRef<{ index: number; index2: number; keys: [string, string]; offset: number } | undefined>(undefined);
  useLayoutEffect(() => {
    const a = anchor.current;
    if (!a || scrollTop <= 0) return;
    const i0 = rows.findIndex((r) => rowKey(r) === a.keys[0]);
    const moved = i0 - a.index;
    if (i0 < 0 || moved === 0) return;
    const i1 = rows.findIndex((r) => rowKey(r) === a.keys[1]);
    if (i1 < 0 || i1 - a.index2 !== moved) return;
    const el = scroller.current!;
    el.scrollTop = i0 * rowHeight + a.offset;
    setScrollTop(el.scrollTop);
    // scrollTop: read at this render; a change of it alone is not a change of rows.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows, rowKey, rowHeight]);

  const bodyHeight = rows.length * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);

  useLayoutEffect(() => {
    const top = Math.min(Math.floor(scrollTop / rowHeight), rows.length - 1);
    const r = rows[top];
    const index2 = Math.min(top + ANCHOR_SPAN, rows.length - 1);
    const r2 = rows[index2];
    anchor.current = r === undefined || r2 === undefined ? undefined : { index: top, index2, keys: [rowKey(r), rowKey(r2)], offset: scrollTop - top * rowHeight };
  });

  // Rendered in the scroll's own frame, so fast scrolling never shows a blank band.
  const onScroll = useCallback(() => flushSync(() => setScrollTop(scroller.current!.scrollTop)), []);
  // Stable callbacks for the memoized rows; a click also focuses the grid, so the keys work next.
  const handlers = useRef({ onSelect: props.onSelect, onOpen: props.onOpen });
  handlers.current = { onSelect: props.onSelect, onOpen: props.onOpen };
  const select = useCallback((key: string) => {
    handlers.current.onSelect?.(key);
    scroller.current?.focus({ preventScroll: true });
  }, []);
  const open = useCallback((key: string) => handlers.current.onOpen?.(key), []);

  // A scan of 5,000 keys costs far less than keeping an index map current.
  const selectedIndex = useMemo(() => (props.selected === undefined ? -1 : rows.findIndex((r) => rowKey(r) === props.selected)), [rows, rowKey, props.selected]);

  const reveal = (i: number) => {
    const el = scroller.current!;
    const top = i * rowHeight;
    const visible = el.clientHeight - HEADER_HEIGHT;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + visible) el.scrollTop = top + rowHeight - visible;
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (rows.length === 0 || e.target !== e.currentTarget) return;
    const page = Math.max(1, Math.floor((viewport - HEADER_HEIGHT) / rowHeight) - 1);
    const from = selectedIndex < 0 ? -1 : selectedIndex;
    let to: number | undefined;
    if (e.key === 'ArrowDown') to = from + 1;
    else if (e.key === 'ArrowUp') to = from < 0 ? 0 : from - 1;
    else if (e.key === 'PageDown') to = from + page;
    else if (e.key === 'PageUp') to = from - page;
    else if (e.key === 'Home') to = 0;
    else if (e.key === 'End') to = rows.length - 1;
    else if ((e.key === 'Enter' || e.key === ' ') && selectedIndex >= 0) {
      e.preventDefault();
      if (e.key === 'Enter') props.onOpen?.(rowKey(rows[selectedIndex]!));
      return;
    }
    if (to === undefined) return;
    e.preventDefault();
    to = Math.max(0, Math.min(rows.length - 1, to));
    props.onSelect?.(rowKey(rows[to]!));
    reveal(to);
  };

  // Rows are keyed by slot, not by job: a slot is reused for the row that scrolls into it, so a
  // jump of a page updates text in place instead of building new elements. Slots whose row did
  // not change (a small scroll, a burst elsewhere) skip rendering altogether (memo).
  const pool = Math.ceil(viewport / rowHeight) + 2 * overscan + 2;
  const visible: ReactNode[] = [];
  for (let i = first; i < last; i++) {
    const r = rows[i]!;
    const key = rowKey(r);
    visible.push(
      <Row
        key={i % pool}
        id={`${id}-r${i}`}
        row={r}
        rowKey={key}
        index={i}
        top={i * rowHeight}
        height={rowHeight}
        template={template}
        columns={columns}
        selected={i === selectedIndex}
        extraClass={props.rowClass?.(r)}
        onSelect={select}
        onOpen={open}
      />,
    );
  }

  return (
    <div className="vt-wrap">
      <div
        ref={scroller}
        className="vt"
        role="grid"
        aria-label={label}
        aria-rowcount={rows.length + 1}
        aria-colcount={columns.length}
        aria-activedescendant={selectedIndex >= first && selectedIndex < last ? `${id}-r${selectedIndex}` : undefined}
        tabIndex={0}
        onScroll={onScroll}
        onKeyDown={onKeyDown}
      >
        <div className="vt-head" role="rowgroup">
          <div className="vt-row vt-header" role="row" aria-rowindex={1} style={{ gridTemplateColumns: template, height: HEADER_HEIGHT }}>
            {columns.map((c) => {
              const sorted = props.sort?.column === c.id ? props.sort.dir : undefined;
              return (
                <div
                  key={c.id}
                  role="columnheader"
                  className={`vt-cell${c.align === 'right' ? ' right' : ''}`}
                  aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : c.sortable ? 'none' : undefined}
                >
                  {c.sortable && props.onSort ? (
                    <button type="button" className="vt-sort" onClick={() => props.onSort!(c.id)}>
                      {c.header}
                      <span aria-hidden className="vt-sort-mark">
                        {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''}
                      </span>
                    </button>
                  ) : (
                    c.header
                  )}
                </div>
              );
            })}
          </div>
        </div>
        <div className="vt-body" role="rowgroup" style={{ height: bodyHeight }}>
          {visible}
        </div>
      </div>
      {/* Outside the grid: a grid may hold only rows. */}
      {rows.length === 0 && props.empty && <div className="vt-empty">{props.empty}</div>}
    </div>
  );
}

interface RowProps<T> {
  id: string;
  row: T;
  rowKey: string;
  index: number;
  top: number;
  height: number;
  template: string;
  columns: readonly Column<T>[];
  selected: boolean;
  extraClass: string | undefined;
  onSelect?: (key: string) => void;
  onOpen?: (key: string) => void;
}

// A row re-renders only when its own data, place or selection changed: a burst that touches 500
// rows re-renders only those of them in view.
const Row = memo(function Row<T>(p: RowProps<T>) {
  return (
    <div
      id={p.id}
      role="row"
      aria-rowindex={p.index + 2}
      aria-selected={p.selected}
      data-key={p.rowKey}
      className={`vt-row${p.selected ? ' selected' : ''}${p.extraClass ? ` ${p.extraClass}` : ''}`}
      style={{ gridTemplateColumns: p.template, height: p.height, transform: `translateY(${p.top}px)` }}
      onClick={() => p.onSelect?.(p.rowKey)}
      onDoubleClick={() => p.onOpen?.(p.rowKey)}
    >
      {p.columns.map((c) => (
        <div key={c.id} role="gridcell" className={`vt-cell${c.align === 'right' ? ' right' : ''}`} title={c.title?.(p.row)}>
          {c.cell(p.row)}
        </div>
      ))}
    </div>
  );
}) as <T>(p: RowProps<T>) => ReactNode;
