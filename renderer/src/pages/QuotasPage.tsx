// The Quotas page: the bounds content's execution settings must keep, edited with the shared
// validator running on every keystroke; the impact of the edit (quotas.preview) shown before it can
// be saved; saving with the previewed version, so a save by someone else in between is a 409 to
// reload, not an overwrite; the audit trail; and whether the cluster's LimitRange mirrors them.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AppError } from '../../../shared/errors';
import { formatMemory } from '../../../shared/quantity';
import {
  BOUND_NAMES,
  RESOURCE_FIELDS,
  quotaProblems,
  type BoundName,
  type Quotas,
  type QuotaChange,
  type QuotaPreview,
  type QuotasView,
  type ResourceField,
} from '../../../shared/quota';
import { Field } from '../components/Field';
import { useLive } from '../hooks';
import { ago, exact, fieldErrors, showBytes, showCores, type FieldErrors } from '../format';
import { call } from '../transport';

const RESOURCE_LABELS: Record<ResourceField, string> = {
  cpu_request: 'CPU request',
  cpu_limit: 'CPU limit',
  memory_request: 'Memory request',
  memory_limit: 'Memory limit',
};
const BOUND_LABELS: Record<BoundName, string> = { min: 'Min', default: 'Default', max: 'Max' };
const isCpu = (f: string) => f.startsWith('cpu_');

interface Draft {
  bounds: Record<ResourceField, Record<BoundName, string>>;
  jobs: string;
  allowed: string;
  saDefault: string;
}

function draftOf(q: Quotas): Draft {
  const text = (f: ResourceField, v: number) => (isCpu(f) ? String(v) : formatMemory(v));
  return {
    bounds: Object.fromEntries(RESOURCE_FIELDS.map((f) => [f, { min: text(f, q[f].min), default: text(f, q[f].default), max: text(f, q[f].max) }])) as Draft['bounds'],
    jobs: String(q.max_concurrent_jobs),
    allowed: q.service_accounts.allowed.join(', '),
    saDefault: q.service_accounts.default ?? '',
  };
}

/** The draft as quota input: quantities stay text ("512Mi"), the validator reads them. */
function inputOf(d: Draft): Record<string, unknown> {
  const jobs = d.jobs.trim();
  return {
    ...Object.fromEntries(RESOURCE_FIELDS.map((f) => [f, Object.fromEntries(BOUND_NAMES.map((k) => [k, d.bounds[f][k].trim()]))])),
    max_concurrent_jobs: /^\d+$/.test(jobs) ? Number(jobs) : jobs,
    service_accounts: { allowed: d.allowed.split(/[\s,]+/).filter(Boolean), default: d.saDefault || null },
  };
}

/** Problem fields -> the input that shows them ("service_accounts.allowed[2]" -> the allowed list). */
function placeOf(field: string): string {
  const f = field.replace(/^quotas\.?/, '');
  return f.startsWith('service_accounts.allowed') ? 'service_accounts.allowed' : f;
}

export function QuotasPage() {
  const fetchView = useCallback(() => call('quotas.get'), []);
  const { data: view, error: loadError, reload } = useLive(fetchView, ['quotas.changed']);
  const [draft, setDraft] = useState<Draft | undefined>();
  const [base, setBase] = useState<QuotasView | undefined>();
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [preview, setPreview] = useState<{ key: string; result?: QuotaPreview; error?: string } | undefined>();
  const [saving, setSaving] = useState(false);
  const [conflict, setConflict] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  const draftKey = draft ? JSON.stringify(inputOf(draft)) : '';
  const baseKey = base ? JSON.stringify(inputOf(draftOf(base.quotas))) : '';
  const edited = draft !== undefined && draftKey !== baseKey;

  // Adopt what the server has when nothing is being edited (first load, or after a save).
  useEffect(() => {
    if (view && (!draft || !edited)) {
      setBase(view);
      setDraft(draftOf(view.quotas));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [view]);

  const problems = useMemo(() => {
    const out: FieldErrors = {};
    if (draft) for (const p of quotaProblems(inputOf(draft))) out[placeOf(p.field)] ??= p.message;
    return out;
  }, [draft]);
  const valid = Object.keys(problems).length === 0;

  // The impact of a valid edit, fetched shortly after typing stops; only the latest one counts.
  const seq = useRef(0);
  useEffect(() => {
    if (!draft || !edited || !valid) {
      setPreview(undefined);
      return;
    }
    const mine = ++seq.current;
    const key = draftKey;
    setPreview((p) => (p?.key === key ? p : { key }));
    const timer = setTimeout(() => {
      call('quotas.preview', { quotas: inputOf(draft) as never }).then(
        (result) => mine === seq.current && setPreview({ key, result }),
        (e: unknown) => {
          if (mine !== seq.current) return;
          setPreview({ key, error: (e as Error).message });
          setServerErrors(Object.fromEntries(Object.entries(fieldErrors(e)).map(([f, m]) => [placeOf(f), m])));
        },
      );
    }, 250);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draftKey, edited, valid]);

  const update = (change: (d: Draft) => void, field: string) => {
    setDraft((d) => {
      const next = structuredClone(d!);
      change(next);
      return next;
    });
    setServerErrors((s) => {
      const { [field]: _gone, ...rest } = s;
      return rest;
    });
    setNotice(undefined);
  };

  function reloadFromServer() {
    setConflict(undefined);
    setServerErrors({});
    setPreview(undefined);
    if (view) {
      setBase(view);
      setDraft(draftOf(view.quotas));
    }
    reload();
  }

  async function save() {
    const p = preview?.result;
    if (!draft || !p || preview.key !== draftKey) return;
    setSaving(true);
    try {
      const r = await call('quotas.update', { quotas: inputOf(draft) as never, version: p.version });
      setBase({ ...(view ?? base!), ...r.state });
      setDraft(draftOf(r.state.quotas));
      setPreview(undefined);
      setNotice(r.changed ? `Saved (version ${r.state.version}).` : 'Nothing to save: the quotas already have these values.');
    } catch (e) {
      if (e instanceof AppError && e.code === 'QuotasChanged') setConflict(e.message);
      else setServerErrors(Object.fromEntries(Object.entries(fieldErrors(e)).map(([f, m]) => [placeOf(f), m])));
    } finally {
      setSaving(false);
    }
  }

  const errors = { ...serverErrors, ...problems };
  const unplaced = Object.entries(errors).filter(([f]) => !isPlaced(f));
  const outdated = view && base && view.version !== base.version && edited;
  const previewed = preview?.result && preview.key === draftKey ? preview.result : undefined;
  const stalePreview = previewed && base && previewed.version !== base.version;

  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Quotas</h1>
          <p>
            The bounds every content item’s CPU and memory must keep, the defaults for content that sets none, how many jobs may run at once, and which service accounts content may
            use. Content left outside by a change is clamped to the nearest bound at launch; content whose service account is no longer allowed does not launch.
          </p>
        </div>
      </div>
      {loadError && <div className="banner error">Could not load the quotas: {loadError}</div>}
      {view && <LimitRangeState view={view} />}
      {notice && (
        <div className="banner dismissable ok" role="status">
          <span>{notice}</span>
          <button className="ghost small" onClick={() => setNotice(undefined)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
      {(conflict || outdated || stalePreview) && (
        <div className="banner dismissable error" role="alert" data-testid="quota-conflict">
          <span>{conflict ?? `Someone saved the quotas since you started editing (now version ${view!.version}${view!.updated_by ? `, by ${view!.updated_by}` : ''}). Saving would overwrite their change.`}</span>
          <button className="small" onClick={reloadFromServer}>
            Reload their values
          </button>
        </div>
      )}

      {draft && base && (
        <div className="detail-grid quotas-grid">
          <section className="card" aria-labelledby="h-bounds">
            <form
              className="card-body"
              onSubmit={(e) => {
                e.preventDefault();
                void save();
              }}
            >
              <h2 id="h-bounds">Bounds</h2>
              <p className="hint">
                CPU in cores (0.5) or millicores (500m); memory in bytes or as a quantity (512Mi, 2Gi). Version {base.version}
                {base.updated_time && (
                  <>
                    , saved {ago(base.updated_time)} by {base.updated_by}
                  </>
                )}
                .
              </p>
              {unplaced.length > 0 && (
                <div className="banner error" role="alert">
                  {unplaced.map(([f, m]) => (
                    <div key={f}>{m}</div>
                  ))}
                </div>
              )}
              <div className="bounds">
                {RESOURCE_FIELDS.map((f) => (
                  <fieldset key={f} className="bounds-row">
                    <legend>{RESOURCE_LABELS[f]}</legend>
                    {BOUND_NAMES.map((k) => (
                      <Field key={k} label={BOUND_LABELS[k]} error={errors[`${f}.${k}`]}>
                        <input className="mono" value={draft.bounds[f][k]} onChange={(e) => update((d) => void (d.bounds[f][k] = e.target.value), `${f}.${k}`)} />
                      </Field>
                    ))}
                    {!errors[`${f}.min`] && !errors[`${f}.default`] && !errors[`${f}.max`] && <div className="hint bounds-now">now {describeBounds(f, base.quotas)}</div>}
                  </fieldset>
                ))}
              </div>
              <div className="form-grid" style={{ marginTop: 14 }}>
                <Field label="Max concurrent jobs" error={errors.max_concurrent_jobs} hint="Builds, renders and running apps, across all content.">
                  <input className="mono" inputMode="numeric" value={draft.jobs} onChange={(e) => update((d) => void (d.jobs = e.target.value), 'max_concurrent_jobs')} />
                </Field>
                <div />
                <Field label="Allowed service accounts" error={errors['service_accounts.allowed']} hint="Names, separated by commas or spaces. Empty: content cannot choose one.">
                  <input className="mono" value={draft.allowed} onChange={(e) => update((d) => void (d.allowed = e.target.value), 'service_accounts.allowed')} placeholder="(none)" />
                </Field>
                <Field label="Default service account" error={errors['service_accounts.default']} hint="For content that sets none.">
                  <select value={draft.saDefault} onChange={(e) => update((d) => void (d.saDefault = e.target.value), 'service_accounts.default')}>
                    <option value="">The namespace’s own (no token)</option>
                    {[...new Set([...(inputOf(draft).service_accounts as { allowed: string[] }).allowed, ...(draft.saDefault ? [draft.saDefault] : [])])].map((n) => (
                      <option key={n} value={n}>
                        {n}
                      </option>
                    ))}
                  </select>
                </Field>
              </div>
              <div className="form-actions">
                <button type="button" disabled={!edited || saving} onClick={reloadFromServer}>
                  Discard changes
                </button>
                <button type="submit" className="primary" disabled={!previewed || !!stalePreview || !!outdated || !!conflict || saving}>
                  {saving ? 'Saving…' : 'Save quotas'}
                </button>
              </div>
            </form>
          </section>
          <section className="card" aria-labelledby="h-impact">
            <div className="card-body">
              <h2 id="h-impact">Impact</h2>
              <Impact edited={edited} valid={valid} preview={preview?.key === draftKey ? preview : undefined} />
            </div>
          </section>
        </div>
      )}
      {!view && !loadError && <div className="empty">Loading…</div>}
      <History />
    </div>
  );
}

const PLACED = new Set([...RESOURCE_FIELDS.flatMap((f) => BOUND_NAMES.map((k) => `${f}.${k}`)), 'max_concurrent_jobs', 'service_accounts.allowed', 'service_accounts.default']);
const isPlaced = (f: string) => PLACED.has(f);

function describeBounds(f: ResourceField, q: Quotas): string {
  const show = isCpu(f) ? showCores : showBytes;
  return `${show(q[f].min)} – ${show(q[f].max)}, default ${show(q[f].default)}`;
}

function LimitRangeState({ view }: { view: QuotasView }) {
  const lr = view.limit_range;
  if (!lr)
    return (
      <div className="banner info" data-testid="limit-range">
        No cluster is configured, so no LimitRange mirrors these bounds yet; they apply when Offhost launches content.
      </div>
    );
  const ns = lr.namespace ? <span className="mono">{lr.namespace}</span> : 'the execution namespace';
  if (lr.state === 'in-sync')
    return (
      <div className="banner ok" data-testid="limit-range">
        The LimitRange in {ns} matches these bounds.
      </div>
    );
  if (lr.state === 'retrying')
    return (
      <div className="banner error" data-testid="limit-range">
        The LimitRange in {ns} is out of date; retrying: {lr.error}
      </div>
    );
  return (
    <div className="banner info" data-testid="limit-range">
      The LimitRange mirror in {ns} is {lr.state === 'starting' ? 'starting' : 'stopped'}.
    </div>
  );
}

function Impact(props: { edited: boolean; valid: boolean; preview: { result?: QuotaPreview; error?: string } | undefined }) {
  if (!props.edited) return <p className="hint">Change a bound to see which content it affects before you save.</p>;
  if (!props.valid) return <p className="hint">Fix the marked fields to see the impact.</p>;
  if (props.preview?.error) return <div className="banner error">{props.preview.error}</div>;
  const r = props.preview?.result;
  if (!r) return <p className="hint">Working out the impact…</p>;
  const { impact } = r;
  return (
    <div className="rows" data-testid="quota-impact">
      <p>
        {impact.content_count === 0
          ? 'There is no content yet, so none falls outside the new bounds.'
          : impact.affected.length === 0
            ? `All ${impact.content_count} content item${impact.content_count === 1 ? ' stays' : 's stay'} inside the new bounds.`
            : `${impact.affected.length} of ${impact.content_count} content items fall${impact.affected.length === 1 ? 's' : ''} outside the new bounds:`}
      </p>
      {impact.affected.length > 0 && (
        <ul className="impact-list" aria-label="Affected content">
          {impact.affected.map((a) => (
            <li key={a.guid}>
              <a href={`#/content/${a.guid}`} className="cell-title">
                {a.title || a.name}
              </a>
              {a.was_outside && <span className="badge none">already outside</span>}
              <ul>
                {a.refused && (
                  <li className="field-error">
                    <b>Will not launch:</b> {a.refused.message}
                  </li>
                )}
                {a.clamped.map((c, i) => (
                  <li key={i}>
                    <b>Clamped:</b> {c.message}
                  </li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      )}
      {impact.defaults_changed.length > 0 && (
        <>
          <h3>Defaults that change</h3>
          <ul className="impact-list">
            {impact.defaults_changed.map((d) => (
              <li key={d.field}>
                {DEFAULT_LABELS[d.field] ?? d.field}: {showSetting(d.field, d.from)} → {showSetting(d.field, d.to)}, for {d.content_count} content item{d.content_count === 1 ? '' : 's'} that set none.
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

const DEFAULT_LABELS: Record<string, string> = {
  cpu_request: 'Default CPU request',
  cpu_limit: 'Default CPU limit',
  memory_request: 'Default memory request',
  memory_limit: 'Default memory limit',
  service_account_name: 'Default service account',
};

function showSetting(field: string, v: number | string | null): string {
  if (v === null) return 'none';
  if (typeof v === 'string') return v;
  return isCpu(field) ? showCores(v) : showBytes(v);
}

/** Each changed value of one audit entry: "CPU request max: 4 cores → 2 cores". */
export function quotaDiff(before: Quotas, after: Quotas): { what: string; from: string; to: string }[] {
  const out: { what: string; from: string; to: string }[] = [];
  for (const f of RESOURCE_FIELDS)
    for (const k of BOUND_NAMES)
      if (before[f][k] !== after[f][k]) out.push({ what: `${RESOURCE_LABELS[f]} ${k}`, from: showSetting(f, before[f][k]), to: showSetting(f, after[f][k]) });
  if (before.max_concurrent_jobs !== after.max_concurrent_jobs) out.push({ what: 'Max concurrent jobs', from: String(before.max_concurrent_jobs), to: String(after.max_concurrent_jobs) });
  const list = (l: string[]) => (l.length ? l.join(', ') : 'none');
  if (list(before.service_accounts.allowed) !== list(after.service_accounts.allowed))
    out.push({ what: 'Allowed service accounts', from: list(before.service_accounts.allowed), to: list(after.service_accounts.allowed) });
  if (before.service_accounts.default !== after.service_accounts.default)
    out.push({ what: 'Default service account', from: before.service_accounts.default ?? 'none', to: after.service_accounts.default ?? 'none' });
  return out;
}

function History() {
  const fetchHistory = useCallback(() => call('quotas.history', { limit: 100 }), []);
  const { data: changes, error } = useLive<QuotaChange[]>(fetchHistory, ['quotas.changed']);
  return (
    <section className="card section-card" aria-labelledby="h-audit">
      <div className="card-body">
        <h2 id="h-audit">Changes</h2>
        {error && <div className="banner error">Could not load the changes: {error}</div>}
        {changes?.length === 0 && <p className="hint">No changes yet: the built-in defaults apply.</p>}
        {changes && changes.length > 0 && (
          <div className="table-wrap">
            <table aria-label="Quota changes">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Who</th>
                  <th>Before → after</th>
                </tr>
              </thead>
              <tbody>
                {changes.map((c) => (
                  <tr key={c.id}>
                    <td title={exact(c.time)}>{ago(c.time)}</td>
                    <td className="cell-sub">{c.actor}</td>
                    <td>
                      <ul className="diff">
                        {quotaDiff(c.before, c.after).map((d) => (
                          <li key={d.what}>
                            {d.what}: <span className="before">{d.from}</span> → <b>{d.to}</b>
                          </li>
                        ))}
                      </ul>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
    </section>
  );
}
