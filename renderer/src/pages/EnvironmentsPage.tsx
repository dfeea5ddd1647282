// The Environments dashboard: every image content can run in, with its runtimes.
import { useMemo, useState } from 'react';
import { LANGUAGES, LANGUAGE_LABELS, sortedInstallations, type Environment } from '../../../shared/environment';
import { Dialog } from '../components/Dialog';
import { useEnvironments } from '../hooks';
import { call } from '../transport';
import { EnvironmentForm } from './EnvironmentForm';
import { ImportDialog } from './ImportDialog';
import { SelectionTester } from './SelectionTester';

type Panel = { kind: 'create' } | { kind: 'edit'; env: Environment } | { kind: 'delete'; env: Environment } | { kind: 'import' } | { kind: 'test' };

export function EnvironmentsPage() {
  const { environments, error } = useEnvironments();
  const [panel, setPanel] = useState<Panel | undefined>();
  const [filter, setFilter] = useState('');
  const [notice, setNotice] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();

  const shown = useMemo(() => {
    const q = filter.trim().toLowerCase();
    if (!environments || !q) return environments;
    return environments.filter((e) =>
      [e.title, e.name, e.description, ...LANGUAGES.flatMap((l) => e[l].installations.map((i) => `${LANGUAGE_LABELS[l]} ${i.version}`))].some((t) =>
        t.toLowerCase().includes(q),
      ),
    );
  }, [environments, filter]);

  async function exportYaml() {
    try {
      const { yaml } = await call('environments.exportYaml');
      const url = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
      const a = Object.assign(document.createElement('a'), { href: url, download: 'environments.yaml' });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      setNotice({ kind: 'error', text: (e as Error).message });
    }
  }

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Environments</h1>
          <p>The container images content runs in, and the R, Python and Quarto versions inside each. Offhost matches each bundle to one of them.</p>
        </div>
        <div className="toolbar">
          <button onClick={() => setPanel({ kind: 'test' })}>Which environment?</button>
          <button onClick={() => setPanel({ kind: 'import' })}>Import YAML</button>
          <button onClick={() => void exportYaml()} disabled={!environments?.length}>
            Export YAML
          </button>
          <button className="primary" onClick={() => setPanel({ kind: 'create' })}>
            + New environment
          </button>
        </div>
      </div>

      {error && <div className="banner error">Could not load environments: {error}</div>}
      {notice && (
        <div className={`banner dismissable ${notice.kind}`} role="status">
          <span>{notice.text}</span>
          <button className="ghost small" onClick={() => setNotice(undefined)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}

      <div className="card">
        {environments && environments.length > 0 && (
          <div className="card-body" style={{ paddingBottom: 0 }}>
            <input type="search" className="search" placeholder="Filter by title, image or version" value={filter} onChange={(e) => setFilter(e.target.value)} aria-label="Filter environments" />
          </div>
        )}
        {environments === undefined && !error && <div className="empty">Loading…</div>}
        {environments?.length === 0 && (
          <div className="empty">
            <h2>No environments yet</h2>
            <p>Add the images your content runs in, or import a YAML file that lists them.</p>
            <button className="primary" onClick={() => setPanel({ kind: 'create' })}>
              + New environment
            </button>
          </div>
        )}
        {shown && shown.length > 0 && (
          <div className="table-wrap" style={{ marginTop: 12 }}>
            <table aria-label="Environments">
              <thead>
                <tr>
                  <th>Title</th>
                  <th>Image</th>
                  <th>Runtimes</th>
                  <th>Matching</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {shown.map((env) => (
                  <tr key={env.guid} data-guid={env.guid}>
                    <td>
                      <div className="cell-title">{env.title}</div>
                      {env.description && (
                        <div className="cell-sub" title={env.description}>
                          {env.description}
                        </div>
                      )}
                      {env.managed_by && (
                        <span className="badge managed" title={`Defined in ${env.managed_by}; change it there.`}>
                          managed
                        </span>
                      )}
                    </td>
                    <td className="image-ref">{env.name}</td>
                    <td>
                      <div className="chips">
                        {LANGUAGES.flatMap((l) =>
                          sortedInstallations(env[l]).map((i) => (
                            <span className="chip" key={`${l}-${i.version}`} title={i.path}>
                              <b>{LANGUAGE_LABELS[l]}</b> {i.version}
                            </span>
                          )),
                        )}
                        {LANGUAGES.every((l) => env[l].installations.length === 0) && <span className="hint">none listed</span>}
                      </div>
                    </td>
                    <td>
                      <span className={`badge ${env.matching}`}>{env.matching}</span>
                    </td>
                    <td className="actions">
                      <button className="small" disabled={!!env.managed_by} title={env.managed_by ? 'Managed by a file' : undefined} onClick={() => setPanel({ kind: 'edit', env })}>
                        Edit
                      </button>{' '}
                      <button className="small danger" disabled={!!env.managed_by} onClick={() => setPanel({ kind: 'delete', env })}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {shown?.length === 0 && environments!.length > 0 && <div className="empty">Nothing matches “{filter}”.</div>}
      </div>

      {(panel?.kind === 'create' || panel?.kind === 'edit') && (
        <EnvironmentForm
          environment={panel.kind === 'edit' ? panel.env : undefined}
          onClose={() => setPanel(undefined)}
          onSaved={(env) => {
            setPanel(undefined);
            setNotice({ kind: 'ok', text: `Saved “${env.title}”.` });
          }}
        />
      )}
      {panel?.kind === 'delete' && (
        <DeleteDialog
          env={panel.env}
          onClose={() => setPanel(undefined)}
          onDeleted={() => {
            setPanel(undefined);
            setNotice({ kind: 'ok', text: `Deleted “${panel.env.title}”.` });
          }}
        />
      )}
      {panel?.kind === 'import' && (
        <ImportDialog
          onClose={() => setPanel(undefined)}
          onImported={(text) => {
            setPanel(undefined);
            setNotice({ kind: 'ok', text });
          }}
        />
      )}
      {panel?.kind === 'test' && <SelectionTester environments={environments ?? []} onClose={() => setPanel(undefined)} />}
    </div>
  );
}

function DeleteDialog(props: { env: Environment; onClose: () => void; onDeleted: () => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <Dialog
      narrow
      title="Delete environment?"
      onClose={props.onClose}
      footer={
        <>
          <button onClick={props.onClose}>Cancel</button>
          <button
            className="danger solid"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              call('environments.delete', { guid: props.env.guid }).then(props.onDeleted, (e: Error) => {
                setBusy(false);
                setError(e.message);
              });
            }}
          >
            Delete
          </button>
        </>
      }
    >
      {error && <div className="banner error">{error}</div>}
      <p>
        <b>{props.env.title}</b> (<span className="mono">{props.env.name}</span>) will no longer be offered to content. The image itself is not touched.
      </p>
      <p className="hint">This cannot be undone, but the audit log keeps its definition.</p>
    </Dialog>
  );
}
