// Settings → Package sources: where build jobs get Python and R packages (shared/package-sources.ts).
// Admins edit; publishers see what builds use. Checked here with the same parser the core uses,
// so each bad line is named next to its field before anything is sent.
import { useEffect, useState } from 'react';
import { AppError } from '../../../shared/errors';
import { parsePackageSources, type PackageSources } from '../../../shared/package-sources';
import { Field } from '../components/Field';
import { call } from '../transport';

interface Draft {
  index: string;
  findLinks: string;
  noIndex: boolean;
  repos: string;
}

function draftOf(s: PackageSources): Draft {
  return {
    index: s.python_index_url ?? '',
    findLinks: s.python_find_links.join('\n'),
    noIndex: s.python_no_index,
    repos: s.r_repositories.map((r) => `${r.name}=${r.url}`).join('\n'),
  };
}

const lines = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean);

function sourcesOf(d: Draft): unknown {
  return {
    python_index_url: d.index.trim() || null,
    python_find_links: lines(d.findLinks),
    python_no_index: d.noIndex,
    r_repositories: lines(d.repos).map((l) => {
      const eq = l.indexOf('=');
      return eq < 0 ? { name: '', url: l } : { name: l.slice(0, eq).trim(), url: l.slice(eq + 1).trim() };
    }),
  };
}

/** Field errors by the form's field: "python_find_links[2]" → findLinks, "r_repositories[0].url" → repos. */
function errorsOf(e: AppError): Partial<Record<keyof Draft | '', string>> {
  const out: Partial<Record<keyof Draft | '', string>> = {};
  for (const d of e.details?.length ? e.details : [{ message: e.message, field: e.field }]) {
    const f = d.field ?? '';
    const key: keyof Draft | '' = f.startsWith('python_index_url') ? 'index' : f.startsWith('python_find_links') ? 'findLinks' : f.startsWith('python_no_index') ? 'noIndex' : f.startsWith('r_repositories') ? 'repos' : '';
    const line = /\[(\d+)\]/.exec(f)?.[1];
    out[key] ??= line !== undefined && key !== '' ? `Line ${Number(line) + 1}: ${d.message}` : d.message;
  }
  return out;
}

export function PackageSourcesCard(props: { canEdit: boolean }) {
  const [saved, setSaved] = useState<PackageSources | undefined>();
  const [draft, setDraft] = useState<Draft | undefined>();
  const [errors, setErrors] = useState<ReturnType<typeof errorsOf>>({});
  const [status, setStatus] = useState<string>('');
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    call('settings.packageSources.get').then(
      (s) => {
        setSaved(s);
        setDraft(draftOf(s));
      },
      (e: Error) => setErrors({ '': e.message }),
    );
  }, []);

  if (!draft) return errors[''] ? <div className="banner error">{errors['']}</div> : null;
  const dirty = saved !== undefined && JSON.stringify(draftOf(saved)) !== JSON.stringify(draft);
  const set = (change: Partial<Draft>) => {
    setDraft({ ...draft, ...change });
    setStatus('');
  };

  async function save() {
    let parsed: PackageSources;
    try {
      parsed = parsePackageSources(sourcesOf(draft!));
    } catch (e) {
      if (e instanceof AppError) return setErrors(errorsOf(e));
      throw e;
    }
    setErrors({});
    setSaving(true);
    try {
      const s = await call('settings.packageSources.update', parsed);
      setSaved(s);
      setDraft(draftOf(s));
      setStatus('Saved. The next build jobs use these sources.');
    } catch (e) {
      setErrors(e instanceof AppError ? errorsOf(e) : { '': (e as Error).message });
    } finally {
      setSaving(false);
    }
  }

  return (
    <form
      className="card card-body package-sources"
      style={{ marginTop: 16 }}
      aria-labelledby="package-sources-title"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h2 id="package-sources-title">Package sources</h2>
      <p className="hint">
        Where build jobs get the packages a bundle needs (like Posit Connect&apos;s Package Manager settings). Nothing is built in: with no Python index, pip uses its own
        default; R packages the image lacks need a CRAN-like repository. URLs are https://, http:// or file:///path (a directory on a volume the environment mounts).
      </p>
      {errors[''] && (
        <div className="banner error" role="alert">
          {errors['']}
        </div>
      )}
      <fieldset disabled={!props.canEdit || saving}>
        <Field label="Python index URL (pip --index-url)" error={errors.index} hint="e.g. https://pypi.example.com/simple; empty: pip's default">
          <input type="text" className="mono" value={draft.index} onChange={(e) => set({ index: e.target.value })} placeholder="https://pypi.org/simple" />
        </Field>
        <Field label="Find-links (pip --find-links), one per line" error={errors.findLinks} hint="e.g. file:///packages/wheels">
          <textarea className="mono" rows={2} value={draft.findLinks} onChange={(e) => set({ findLinks: e.target.value })} />
        </Field>
        <Field label="Only the find-links (pip --no-index)" error={errors.noIndex}>
          <input type="checkbox" style={{ width: 'auto', alignSelf: 'flex-start', margin: '4px 0' }} checked={draft.noIndex} onChange={(e) => set({ noIndex: e.target.checked })} />
        </Field>
        <Field label="R repositories, one NAME=URL per line, in order" error={errors.repos} hint="e.g. CRAN=https://packagemanager.posit.co/cran/latest">
          <textarea className="mono" rows={2} value={draft.repos} onChange={(e) => set({ repos: e.target.value })} />
        </Field>
      </fieldset>
      {props.canEdit ? (
        <div className="actions">
          <button type="submit" className="primary" disabled={!dirty || saving}>
            {saving ? 'Saving…' : 'Save package sources'}
          </button>
          {status && (
            <span className="hint" role="status">
              {status}
            </span>
          )}
        </div>
      ) : (
        <p className="hint">Only admins change these.</p>
      )}
    </form>
  );
}
