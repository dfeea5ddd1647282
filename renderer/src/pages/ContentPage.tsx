// The Content page: every content item with where it runs and how its last deploy went, live from
// the core's events; #/content/<guid> opens one item (ContentDetail).
import { memo, useCallback, useMemo, useState } from 'react';
import type { Content } from '../../../shared/content';
import type { Environment } from '../../../shared/environment';
import { useEnvironments, useLive } from '../hooks';
import { ago, exact } from '../format';
import { call } from '../transport';
import { ContentDetail } from './ContentDetail';
import { NewContentDialog } from './NewContentDialog';

export function ContentPage(props: { guid?: string }) {
  if (props.guid) return <ContentDetail key={props.guid} guid={props.guid} />;
  return <ContentList />;
}

/** What the list says about an item's state, from its own fields. */
export function contentState(c: Pick<Content, 'bundle_id' | 'locked' | 'last_deployed_time'>): { label: string; tone: string } {
  if (c.locked) return { label: 'locked', tone: 'managed' };
  if (c.bundle_id === null) return { label: 'not deployed', tone: 'none' };
  return { label: 'deployed', tone: 'any' };
}

export function appModeLabel(mode: Content['app_mode']): string {
  return mode === 'unknown' ? '—' : mode;
}

function ContentList() {
  const fetchList = useCallback(() => call('content.list'), []);
  const { data: content, error } = useLive(fetchList, ['content.changed']);
  const { environments } = useEnvironments();
  const [filter, setFilter] = useState('');
  const [creating, setCreating] = useState(false);

  const envByGuid = useMemo(() => new Map((environments ?? []).map((e) => [e.guid, e])), [environments]);
  const shown = useMemo(() => {
    const sorted = [...(content ?? [])].sort((a, b) => (b.last_deployed_time ?? b.created_time).localeCompare(a.last_deployed_time ?? a.created_time));
    const q = filter.trim().toLowerCase();
    if (!q) return sorted;
    return sorted.filter((c) => [c.name, c.title ?? '', c.app_mode, c.image_name ?? ''].some((t) => t.toLowerCase().includes(q)));
  }, [content, filter]);

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Content</h1>
          <p>Reports, apps and APIs published to Offhost: where each one runs and how its last deploy went. Publish with rsconnect, or upload a bundle here.</p>
        </div>
        <div className="toolbar">
          <button className="primary" onClick={() => setCreating(true)}>
            + New content
          </button>
        </div>
      </div>

      {error && <div className="banner error">Could not load content: {error}</div>}

      <div className="card">
        {content && content.length > 0 && (
          <div className="card-body" style={{ paddingBottom: 0 }}>
            <input type="search" className="search" placeholder="Filter by name, title, mode or image" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter content" />
          </div>
        )}
        {content === undefined && !error && <div className="empty">Loading…</div>}
        {content?.length === 0 && (
          <div className="empty">
            <h2>No content yet</h2>
            <p>
              Deploy with <code>rsconnect deploy …</code> against this server, or upload a bundle (a .tar.gz with a manifest.json) here.
            </p>
            <button className="primary" onClick={() => setCreating(true)}>
              + New content
            </button>
          </div>
        )}
        {shown.length > 0 && (
          <div className="table-wrap" style={{ marginTop: 12 }}>
            <table aria-label="Content">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>App mode</th>
                  <th>Environment</th>
                  <th>Last deploy</th>
                  <th>State</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((c) => (
                  <ContentRow key={c.guid} c={c} env={c.environment_guid ? envByGuid.get(c.environment_guid) : undefined} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {content && content.length > 0 && shown.length === 0 && <div className="empty">Nothing matches “{filter}”.</div>}
      </div>
      {creating && <NewContentDialog onClose={() => setCreating(false)} />}
    </div>
  );
}

/** One row; memoised so a refetch re-renders only the rows whose item changed. */
const ContentRow = memo(
  function ContentRow({ c, env }: { c: Content; env: Environment | undefined }) {
    const state = contentState(c);
    return (
      <tr data-guid={c.guid}>
        <td>
          <a className="cell-title row-link" href={`#/content/${c.guid}`}>
            {c.title || c.name}
          </a>
          {c.title && <div className="cell-sub mono">{c.name}</div>}
        </td>
        <td>
          <span className="mono">{appModeLabel(c.app_mode)}</span>
        </td>
        <td>
          {env ? <div>{env.title}</div> : null}
          {c.image_name ? <div className="image-ref muted">{c.image_name}</div> : !env && <span className="hint">not chosen yet</span>}
        </td>
        <td title={exact(c.last_deployed_time)}>{c.last_deployed_time ? ago(c.last_deployed_time) : <span className="hint">never</span>}</td>
        <td>
          <span className={`badge ${state.tone}`}>{state.label}</span>
        </td>
      </tr>
    );
  },
  (a, b) => a.env === b.env && JSON.stringify(a.c) === JSON.stringify(b.c),
);
