// The benchmark page: the real Processes page (store, batching, filters, sort, windowed table) fed
// by fake-bridge.ts, and window.bench, which the Node side drives and reads figures from. Every
// figure is taken with the Performance API (performance.now and performance.measure).
import './fake-bridge';
import { createRoot } from 'react-dom/client';
import { flushSync } from 'react-dom';
import { ProcessesPage } from '../../../renderer/src/processes/ProcessesPage';
import { ROW_HEIGHT } from '../../../renderer/src/processes/ProcessTable';
import { processStore } from '../../../renderer/src/processes/useProcesses';
import '../../../renderer/src/styles.css';
import { addJobs, burst, emit, ROWS } from './fake-bridge';

const frame = () => new Promise<number>((r) => requestAnimationFrame(r));
/** After the next frame was painted: a task queued from its rAF runs once the frame is done. */
const painted = () => new Promise<number>((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0)));
const grid = () => document.querySelector<HTMLElement>('[role=grid]')!;
const layout = () => grid().getBoundingClientRect().height + document.body.offsetHeight;

declare global {
  interface Window {
    bench: typeof bench;
  }
}

const bench = {
  /** Mount the page; time until the frame showing the 5,000-row table is painted. */
  async firstPaint(): Promise<{ ms: number; rows: number; domRows: number }> {
    performance.mark('mount');
    const t0 = performance.now();
    createRoot(document.getElementById('root')!).render(<ProcessesPage />);
    while (!document.querySelector('.vt-body [role=row]')) await frame();
    const t1 = await painted();
    performance.measure('first paint', { start: t0, end: t1 });
    return { ms: t1 - t0, rows: Number(grid().getAttribute('aria-rowcount')) - 1, domRows: document.querySelectorAll('.vt-body [role=row]').length };
  },

  /**
   * Scroll by `step` px per frame for `frames` frames. Per frame: the work of showing the new
   * position (the scroll handler, React's render and commit, style and layout), measured from
   * setting scrollTop to a forced layout; and the interval between frames.
   */
  async scroll(frames: number, step: number): Promise<{ work: number[]; intervals: number[]; blank: number }> {
    const el = grid();
    const work: number[] = [];
    const intervals: number[] = [];
    let blank = 0;
    let last = await frame();
    for (let i = 0; i < frames; i++) {
      const now = await frame();
      intervals.push(now - last);
      last = now;
      const t0 = performance.now();
      el.scrollTop = (el.scrollTop + step) % (el.scrollHeight - el.clientHeight);
      el.dispatchEvent(new Event('scroll'));
      layout();
      const t1 = performance.now();
      performance.measure('scroll frame', { start: t0, end: t1 });
      work.push(t1 - t0);
      // The rows in the DOM must cover the viewport right after (no blank band).
      const shown = [...el.querySelectorAll<HTMLElement>('.vt-body [role=row]')].map((r) => Number(r.getAttribute('aria-rowindex')) - 2);
      const h = ROW_HEIGHT;
      const need = [Math.floor(el.scrollTop / h), Math.min(ROWS - 1, Math.floor((el.scrollTop + el.clientHeight) / h))];
      if (shown.length === 0 || Math.min(...shown) > need[0]! || Math.max(...shown) < need[1]!) blank++;
    }
    return { work, intervals, blank };
  },

  /**
   * One metrics cycle changing `n` rows arrives; the store applies it at the next frame. Measured:
   * from the event to the table committed and laid out, with the number of store versions it took
   * (1 = one batch) and whether the rows in view show the new figures in that same frame.
   */
  async burst(n: number): Promise<{ ms: number; versions: number; visibleChanged: number; shownRight: boolean }> {
    await frame();
    const e = burst(n);
    const v0 = processStore.getSnapshot().version;
    const t0 = performance.now();
    emit('processes.metrics', e);
    flushSync(() => processStore.flush());
    layout();
    const t1 = performance.now();
    performance.measure('burst', { start: t0, end: t1 });
    const versions = processStore.getSnapshot().version - v0;
    // Every changed row in view shows its new CPU figure.
    const byId = new Map(e.rows.map((r) => [r.id, r]));
    let visibleChanged = 0;
    let shownRight = true;
    for (const rowEl of document.querySelectorAll<HTMLElement>('.vt-body [role=row]')) {
      const id = Number(rowEl.dataset.key!.replace('job', ''));
      const ch = byId.get(id);
      if (!ch) continue;
      visibleChanged++;
      const m = ch.cpu_millicores;
      const expected = m < 1000 ? `${Math.round(m)}m` : '';
      if (!rowEl.textContent!.includes(expected)) shownRight = false;
    }
    return { ms: t1 - t0, versions, visibleChanged, shownRight };
  },

  /** Sort by a column (a click on its header), for bursts that reorder the rows. */
  async sortBy(name: string): Promise<void> {
    const b = [...document.querySelectorAll<HTMLButtonElement>('.vt-sort')].find((x) => x.textContent!.startsWith(name))!;
    b.click();
    b.click();
    await painted();
  },

  /** New jobs appear (the list is read again, as after a jobs.changed for jobs it did not have). */
  async addJobs(n: number): Promise<void> {
    addJobs(n);
    emit('events.resync', {});
    await painted();
    await painted();
  },

  /** The first row whose top is in view, and where it is relative to the grid's top (px). */
  firstVisible(): { key: string; top: number; scrollTop: number } {
    const el = grid();
    const gridTop = el.getBoundingClientRect().top + 36;
    const visible = [...el.querySelectorAll<HTMLElement>('.vt-body [role=row]')]
      .map((r) => ({ key: r.dataset.key!, top: r.getBoundingClientRect().top - gridTop }))
      .filter((r) => r.top >= -1)
      .sort((a, b) => a.top - b.top);
    return { ...visible[0]!, scrollTop: el.scrollTop };
  },

  rows: ROWS,
};
window.bench = bench;
