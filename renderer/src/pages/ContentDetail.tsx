// One content item: what its bundle is, which environment it gets and why, its execution settings,
// its bundles (deploy, roll back, upload) and its deploy history. Live: a content.changed or
// jobs.changed event naming this item refetches it (batched); a quotas.changed event refetches
// the ranges the form shows.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Bundle, ContentDetail as Detail } from '../../../shared/content';
import type { Environment } from '../../../shared/environment';
import type { Selection } from '../../../shared/selection';
import { useEnvironments, useLive } from '../hooks';
import { ago, exact, showBytes } from '../format';
import { call, uploadBundle } from '../transport';
import { appModeLabel, contentState } from './ContentPage';
import { ContentSettingsForm } from './ContentSettingsForm';

type Notice = { kind: 'ok' | 'error'; text: string };

export function ContentDetail({ guid }: { guid: string }) {
  const fetchDetail = useCallback(() => call('content.get', { guid }), [guid]);
  const { data: detail, error, set: setDetail } = useLive(fetchDetail, ['content.changed', 'jobs.changed'], {
    accept: (e, p) => (e === 'jobs.changed' ? (p as { content_guid: string }).content_guid === guid : (p as { guids: string[] }).guids.includes(guid)),
  });
  const fetchQuotas = useCallback(() => call('quotas.get'), []);
  const { data: quotas } = useLive(fetchQuotas, ['quotas.changed']);
  const { environments } = useEnvironments();
  const [notice, setNotice] = useState<Notice | undefined>();

  if (!detail)
    return (
      <div className="page">
        <a href="#/content" className="back-link">
          ← Content
        </a>
        {error ? <div className="banner error">Could not load this content: {error}</div> : <div className="empty">Loading…</div>}
      </div>
    );

  const c = detail.content;
  const state = contentState(c);
  return (
    <div className="page">
      <a href="#/content" className="back-link">
        ← Content
      </a>
      <div className="page-head">
        <div>
          <h1>
            {c.title || c.name} <span className={`badge ${state.tone}`}>{state.label}</span>
          </h1>
          <p>
            <span className="mono">{c.name}</span> · {appModeLabel(c.app_mode)} · created {ago(c.created_time)}
            {c.last_deployed_time && <> · deployed {ago(c.last_deployed_time)}</>}
          </p>
        </div>
        {c.bundle_id && (
          <div className="toolbar">
            <a className="button" href={c.content_url} target="_blank" rel="noreferrer">
              Open ↗
            </a>
          </div>
        )}
      </div>
      {error && <div className="banner error">Could not refresh: {error}</div>}
      {!detail.can_edit && <div className="banner info">You can look at this content but not change it: only its owner or an admin can.</div>}
      {notice && (
        <div className={`banner dismissable ${notice.kind}`} role="status">
          <span>{notice.text}</span>
          <button className="ghost small" onClick={() => setNotice(undefined)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}

      <div className="detail-grid">
        <div className="detail-col">
          <section className="card" aria-labelledby="h-bundle">
            <div className="card-body">
              <h2 id="h-bundle">Bundle</h2>
              <ManifestSummary detail={detail} />
            </div>
          </section>
          <section className="card" aria-labelledby="h-env">
            <div className="card-body">
              <h2 id="h-env">Environment</h2>
              <EnvironmentChoice detail={detail} environments={environments} />
            </div>
          </section>
        </div>
        <section className="card" aria-labelledby="h-settings">
          <div className="card-body">
            <h2 id="h-settings">Execution settings</h2>
            <ContentSettingsForm content={c} quotas={quotas} environments={environments ?? []} disabled={!detail.can_edit} onSaved={(saved) => {
                setDetail((d) => (d ? { ...d, content: saved } : d));
                setNotice({ kind: 'ok', text: 'Saved the execution settings.' });
              }}
            />
          </div>
        </section>
      </div>

      <Bundles detail={detail} onNotice={setNotice} />
      <History detail={detail} />
    </div>
  );
}

function ManifestSummary({ detail }: { detail: Detail }) {
  const m = detail.manifest as ManifestLike | null;
  if (!m) return <p className="hint">No bundle yet. Upload one below, or deploy with rsconnect.</p>;
  const md = m.metadata ?? {};
  const rows: [string, string | undefined][] = [
    ['App mode', md.appmode],
    ['Entry point', md.entrypoint ?? md.primary_rmd ?? md.primary_html],
    ['R', m.platform],
    ['Python', m.python?.version],
    ['Quarto', m.quarto?.version],
    ['Packages', m.python?.package_manager?.package_file ?? (m.packages ? `${Object.keys(m.packages).length} R packages` : undefined)],
    ['Files', m.files ? `${Object.keys(m.files).length}` : undefined],
    ['Asks for image', m.environment?.image],
    ['Asks for environment', m.environment?.identifier],
  ];
  return (
    <dl className="kv" data-testid="manifest-summary">
      {rows
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .map(([k, v]) => (
          <div className="kv-row" key={k}>
            <dt>{k}</dt>
            <dd className={k === 'App mode' || k === 'Entry point' || k.startsWith('Asks') ? 'mono' : undefined}>{v}</dd>
          </div>
        ))}
    </dl>
  );
}

interface ManifestLike {
  platform?: string;
  metadata?: { appmode?: string; entrypoint?: string; primary_rmd?: string; primary_html?: string };
  python?: { version?: string; package_manager?: { package_file?: string } };
  quarto?: { version?: string };
  packages?: Record<string, unknown>;
  files?: Record<string, unknown>;
  environment?: { image?: string; identifier?: string };
}

const STEP_LABELS: Record<string, string> = {
  'manifest-identifier': 'the environment the manifest names',
  'manifest-image': 'the image the manifest names',
  'content-environment': 'the content’s default environment',
  'content-image': 'the content’s default image',
  automatic: 'automatic selection',
  manifest: 'reading the manifest',
};

/**
 * Which environment a deploy of this bundle gets now, and why: the same selection a deploy runs,
 * with the content's defaults. Rerun when the manifest, the defaults or the environments change.
 */
function EnvironmentChoice({ detail, environments }: { detail: Detail; environments: Environment[] | undefined }) {
  const c = detail.content;
  const [result, setResult] = useState<Selection | undefined>();
  const [error, setError] = useState<string | undefined>();
  const manifestKey = JSON.stringify(detail.manifest);
  const seq = useRef(0);
  useEffect(() => {
    if (!detail.manifest) return;
    const mine = ++seq.current;
    call('environments.select', {
      manifest: detail.manifest,
      content: { default_environment_guid: c.default_environment_guid, default_image_name: c.default_image_name },
    }).then(
      (r) => mine === seq.current && (setResult(r), setError(undefined)),
      (e: Error) => mine === seq.current && (setResult(undefined), setError(e.message)),
    );
    // environments: a new or changed environment can change the choice.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [manifestKey, c.default_environment_guid, c.default_image_name, environments]);

  const deployedTo = c.environment_guid ? environments?.find((e) => e.guid === c.environment_guid) : undefined;
  return (
    <div className="rows">
      {(c.environment_guid || c.image_name) && (
        <div>
          <div className="label">Deployed in</div>
          <div>{deployedTo?.title ?? 'an environment that no longer exists'}</div>
          {c.image_name && <div className="image-ref muted">{c.image_name}</div>}
        </div>
      )}
      {!detail.manifest && <p className="hint">Upload a bundle to see which environment it gets.</p>}
      {error && <div className="banner error">{error}</div>}
      {result?.ok && (
        <div className="result-card ok" data-testid="environment-choice">
          <div className="hint">{c.environment_guid === result.environment.guid ? 'A deploy now keeps' : 'A deploy now would choose'}, by {STEP_LABELS[result.step]}:</div>
          <h3 style={{ margin: '4px 0' }}>{result.environment.title}</h3>
          <div className="image-ref">{result.environment.name}</div>
          <ul className="reasons">
            {result.reasons.map((r, i) => (
              <li key={i}>{r}</li>
            ))}
          </ul>
        </div>
      )}
      {result && !result.ok && (
        <div className="result-card fail" data-testid="environment-choice">
          <div className="hint">Failed at {STEP_LABELS[result.step]}</div>
          <h3 style={{ margin: '4px 0' }}>No environment fits</h3>
          <p>{result.summary}</p>
        </div>
      )}
    </div>
  );
}

function Bundles({ detail, onNotice }: { detail: Detail; onNotice: (n: Notice) => void }) {
  const c = detail.content;
  const fileInput = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState<string | undefined>();
  const [uploadError, setUploadError] = useState<string | undefined>();
  const activeId = c.bundle_id === null ? null : Number(c.bundle_id);

  async function upload(file: File) {
    setBusy('upload');
    setUploadError(undefined);
    try {
      const b = await uploadBundle(c.guid, file);
      onNotice({ kind: 'ok', text: `Uploaded bundle #${b.id} (${b.app_mode}). Deploy it from the list below.` });
    } catch (e) {
      setUploadError((e as Error).message);
    } finally {
      setBusy(undefined);
      if (fileInput.current) fileInput.current.value = '';
    }
  }

  async function deploy(b: Bundle, verb: string) {
    setBusy(b.id);
    try {
      const { task_id } = await call('content.deploy', { guid: c.guid, bundle_id: b.id });
      onNotice({ kind: 'ok', text: `${verb} bundle #${b.id}: task ${task_id} started.` });
    } catch (e) {
      onNotice({ kind: 'error', text: `${verb} bundle #${b.id} failed: ${(e as Error).message}` });
    } finally {
      setBusy(undefined);
    }
  }

  return (
    <section className="card section-card" aria-labelledby="h-bundles">
      <div className="card-body">
        <div className="section-head">
          <h2 id="h-bundles">Bundles</h2>
          <div className="toolbar">
            <input ref={fileInput} type="file" accept=".tar.gz,.tgz,application/gzip" hidden aria-label="Bundle file" onChange={(e) => e.target.files?.[0] && void upload(e.target.files[0])} />
            <button disabled={!detail.can_edit || busy !== undefined} onClick={() => fileInput.current?.click()}>
              {busy === 'upload' ? 'Uploading…' : 'Upload bundle…'}
            </button>
          </div>
        </div>
        {uploadError && (
          <div className="banner error" role="alert">
            The bundle was refused: {uploadError}
          </div>
        )}
        {detail.bundles.length === 0 ? (
          <p className="hint">No bundles yet.</p>
        ) : (
          <div className="table-wrap">
            <table aria-label="Bundles">
              <thead>
                <tr>
                  <th>Bundle</th>
                  <th>Uploaded</th>
                  <th>Mode</th>
                  <th>Runtimes</th>
                  <th>Size</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {detail.bundles.map((b) => {
                  const id = Number(b.id);
                  const verb = b.active ? 'Redeploy' : activeId !== null && id < activeId ? 'Roll back to' : 'Deploy';
                  return (
                    <tr key={b.id} data-bundle={b.id}>
                      <td>
                        <span className="cell-title">#{b.id}</span> {b.active && <span className="badge any">active</span>}
                        <div className="cell-sub mono" title={b.sha256}>
                          {b.sha256.slice(0, 12)}
                        </div>
                      </td>
                      <td title={exact(b.created_time)}>{ago(b.created_time)}</td>
                      <td className="mono">{b.app_mode}</td>
                      <td>
                        <div className="chips">
                          {b.r_version && (
                            <span className="chip">
                              <b>R</b> {b.r_version}
                            </span>
                          )}
                          {b.py_version && (
                            <span className="chip">
                              <b>Python</b> {b.py_version}
                            </span>
                          )}
                          {b.quarto_version && (
                            <span className="chip">
                              <b>Quarto</b> {b.quarto_version}
                            </span>
                          )}
                        </div>
                      </td>
                      <td>{showBytes(b.size)}</td>
                      <td className="actions">
                        <button className="small" disabled={!detail.can_edit || busy !== undefined} onClick={() => void deploy(b, verb)}>
                          {busy === b.id ? 'Starting…' : verb === 'Roll back to' ? 'Roll back' : verb}
                        </button>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}

function History({ detail }: { detail: Detail }) {
  if (detail.deploys.length === 0 && detail.jobs.length === 0) return null;
  return (
    <section className="card section-card" aria-labelledby="h-history">
      <div className="card-body">
        <h2 id="h-history">Deploy history</h2>
        <div className="table-wrap">
          <table aria-label="Deploy history">
            <thead>
              <tr>
                <th>When</th>
                <th>What</th>
                <th>By</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {detail.deploys.map((d) => (
                <tr key={d.task_id}>
                  <td title={exact(d.created_time)}>{ago(d.created_time)}</td>
                  <td>
                    {d.kind}
                    {d.bundle_id && <> of bundle #{d.bundle_id}</>}
                    {!d.activate && <span className="badge none">draft</span>}
                  </td>
                  <td className="cell-sub">{d.actor}</td>
                  <td>
                    {d.finished ? (
                      d.code === 0 ? (
                        <span className="badge any">done</span>
                      ) : (
                        <span className="field-error">{d.error || `failed (code ${d.code})`}</span>
                      )
                    ) : (
                      <span className="badge exact">in progress</span>
                    )}
                    {d.last_line && <div className="cell-sub wrap">{d.last_line}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {detail.jobs.length > 0 && (
          <>
            <h3 style={{ marginTop: 16 }}>Jobs</h3>
            <div className="chips">
              {detail.jobs.map((j) => (
                <a className="chip chip-link" key={j.key} href={`#/processes/${detail.content.guid}/${j.key}`} title={`${j.image} · queued ${exact(j.queued_time)}: its timeline, usage, log and events`}>
                  <b>{j.kind}</b> {j.tag} · {j.state}
                </a>
              ))}
            </div>
          </>
        )}
      </div>
    </section>
  );
}
