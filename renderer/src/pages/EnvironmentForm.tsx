// Create or edit an environment. The shared schema checks the input before it is sent (same rules
// and messages as the core); the core checks it again and its errors land next to the same fields.
import { useState } from 'react';
import {
  LANGUAGES,
  LANGUAGE_LABELS,
  MATCHING,
  parseEnvironmentSpec,
  parseEnvironmentUpdate,
  type Environment,
  type EnvironmentSpecInput,
  type Language,
} from '../../../shared/environment';
import { AppError } from '../../../shared/errors';
import { Dialog } from '../components/Dialog';
import { Field } from '../components/Field';
import { call } from '../transport';

interface MountDraft {
  type: 'nfs' | 'pvc';
  nfs_host: string;
  nfs_export_path: string;
  pvc_name: string;
  path: string;
  read_only: boolean;
}

interface Draft {
  name: string;
  title: string;
  description: string;
  matching: string;
  supervisor: string;
  installations: Record<Language, { version: string; path: string }[]>;
  mounts: MountDraft[];
}

const MATCHING_HELP: Record<string, string> = {
  any: 'Offhost may pick this image for any content whose runtimes it has.',
  exact: 'Only content that names this image or environment runs here.',
  none: 'Never used for content (e.g. while an image is being retired).',
};

const PATH_HINTS: Record<Language, string> = {
  r: '/opt/R/4.3.1/bin/R',
  python: '/opt/python/3.11.9/bin/python3',
  quarto: '/opt/quarto/1.5.57/bin/quarto',
  tensorflow: '/usr/bin/tensorflow_model_server',
  nodejs: '/opt/node/20.11.1/bin/node',
};

function draftOf(env?: Environment): Draft {
  const installations = Object.fromEntries(LANGUAGES.map((l) => [l, env ? env[l].installations.map((i) => ({ ...i })) : []])) as Draft['installations'];
  return {
    name: env?.name ?? '',
    title: env?.title ?? '',
    description: env?.description ?? '',
    matching: env?.matching ?? 'any',
    supervisor: env?.supervisor ?? '',
    installations,
    mounts: (env?.volume_mounts ?? []).map((m) => ({
      type: m.source.volume_type,
      nfs_host: m.source.volume_type === 'nfs' ? m.source.nfs_host : '',
      nfs_export_path: m.source.volume_type === 'nfs' ? m.source.nfs_export_path : '',
      pvc_name: m.source.volume_type === 'pvc' ? m.source.pvc_name : '',
      path: m.target.path,
      read_only: m.target.read_only,
    })),
  };
}

function specOf(d: Draft): EnvironmentSpecInput {
  const spec: EnvironmentSpecInput = {
    name: d.name.trim(),
    title: d.title,
    description: d.description,
    matching: d.matching as EnvironmentSpecInput['matching'],
    supervisor: d.supervisor.trim() === '' ? null : d.supervisor,
    volume_mounts: d.mounts.map((m) => ({
      source: m.type === 'nfs' ? { volume_type: 'nfs', nfs_host: m.nfs_host.trim(), nfs_export_path: m.nfs_export_path.trim() } : { volume_type: 'pvc', pvc_name: m.pvc_name.trim() },
      target: { path: m.path.trim(), read_only: m.read_only },
    })),
  };
  for (const l of LANGUAGES) spec[l] = { installations: d.installations[l].map((i) => ({ version: i.version.trim(), path: i.path.trim() })) };
  return spec;
}

type Errors = Record<string, string>;

function errorsOf(e: AppError): Errors {
  const list = e.details?.length ? e.details : [{ code: e.code, message: e.message, field: e.field }];
  const out: Errors = {};
  for (const d of list) {
    const key = d.field ?? '';
    out[key] ??= d.message;
  }
  return out;
}

export function EnvironmentForm(props: { environment?: Environment; onClose: () => void; onSaved: (env: Environment) => void }) {
  const editing = props.environment;
  const [draft, setDraft] = useState<Draft>(() => draftOf(editing));
  const [errors, setErrors] = useState<Errors>({});
  const [saving, setSaving] = useState(false);

  const update = (change: (d: Draft) => void) =>
    setDraft((d) => {
      const next = structuredClone(d);
      change(next);
      return next;
    });

  // Fields the form shows; an error for anything else goes into the banner.
  const shown = new Set(['name', 'title', 'description', 'matching', 'supervisor']);
  for (const l of LANGUAGES) draft.installations[l].forEach((_, i) => ['version', 'path'].forEach((f) => shown.add(`${l}.installations[${i}].${f}`)));
  draft.mounts.forEach((_, i) =>
    ['source.volume_type', 'source.nfs_host', 'source.nfs_export_path', 'source.pvc_name', 'target.path'].forEach((f) => shown.add(`volume_mounts[${i}].${f}`)),
  );
  const unplaced = Object.entries(errors).filter(([field]) => !shown.has(field));

  async function save() {
    const spec = specOf(draft);
    try {
      if (editing) {
        const { name: _n, ...fields } = spec;
        parseEnvironmentUpdate(fields);
      } else {
        parseEnvironmentSpec(spec);
      }
    } catch (e) {
      if (e instanceof AppError) return setErrors(errorsOf(e));
      throw e;
    }
    setSaving(true);
    try {
      const { name: _n, ...fields } = spec;
      const saved = editing ? await call('environments.update', { guid: editing.guid, spec: fields }) : await call('environments.create', spec);
      props.onSaved(saved);
    } catch (e) {
      setErrors(e instanceof AppError ? errorsOf(e) : { '': (e as Error).message });
    } finally {
      setSaving(false);
    }
  }

  const err = (field: string) => errors[field];

  return (
    <Dialog
      title={editing ? `Edit ${editing.title}` : 'New environment'}
      onClose={props.onClose}
      footer={
        <>
          <button onClick={props.onClose}>Cancel</button>
          <button className="primary" onClick={() => void save()} disabled={saving}>
            {saving ? 'Saving…' : editing ? 'Save changes' : 'Create environment'}
          </button>
        </>
      }
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {unplaced.length > 0 && (
          <div className="banner error" role="alert">
            {unplaced.map(([field, message]) => (
              <div key={field}>{message}</div>
            ))}
          </div>
        )}
        <div className="form-grid">
          <Field
            label="Image"
            className="wide"
            error={err('name')}
            hint={editing ? 'The image of an environment cannot change; create a new environment for a new image.' : 'The container image, e.g. ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy'}
          >
            <input className="mono" value={draft.name} disabled={!!editing} onChange={(e) => update((d) => void (d.name = e.target.value))} placeholder="registry.example.com/team/image:tag" />
          </Field>
          <Field label="Title" error={err('title')} hint="1 to 64 characters, shown to publishers.">
            <input value={draft.title} onChange={(e) => update((d) => void (d.title = e.target.value))} />
          </Field>
          <Field label="Matching" error={err('matching')} hint={MATCHING_HELP[draft.matching]}>
            <select value={draft.matching} onChange={(e) => update((d) => void (d.matching = e.target.value))}>
              {MATCHING.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Description" className="wide" error={err('description')}>
            <textarea rows={2} value={draft.description} onChange={(e) => update((d) => void (d.description = e.target.value))} style={{ fontFamily: 'inherit', fontSize: 'inherit' }} />
          </Field>
          <Field label="Supervisor" className="wide" error={err('supervisor')} hint="Optional command that wraps every content process in this image.">
            <input className="mono" value={draft.supervisor} onChange={(e) => update((d) => void (d.supervisor = e.target.value))} placeholder="/usr/local/bin/supervisor.sh" />
          </Field>
        </div>

        <div className="section">
          <div className="section-head">
            <h3>Runtimes in this image</h3>
          </div>
          <div className="lang-grid">
            {LANGUAGES.map((lang) => (
              <div className="lang-block" key={lang} data-language={lang}>
                <div className="section-head">
                  <span className="label">{LANGUAGE_LABELS[lang]}</span>
                  <button
                    type="button"
                    className="ghost small"
                    onClick={() => update((d) => void d.installations[lang].push({ version: '', path: '' }))}
                    aria-label={`Add ${LANGUAGE_LABELS[lang]} installation`}
                  >
                    + Add
                  </button>
                </div>
                {draft.installations[lang].length === 0 && <div className="hint">None</div>}
                <div className="rows">
                  {draft.installations[lang].map((inst, i) => (
                    <div className="row installation" key={i}>
                      <Field label="Version" error={err(`${lang}.installations[${i}].version`)}>
                        <input
                          className="mono"
                          value={inst.version}
                          placeholder="4.3.1"
                          onChange={(e) => update((d) => void (d.installations[lang][i]!.version = e.target.value))}
                        />
                      </Field>
                      <Field label="Path" error={err(`${lang}.installations[${i}].path`)}>
                        <input
                          className="mono"
                          value={inst.path}
                          placeholder={PATH_HINTS[lang]}
                          onChange={(e) => update((d) => void (d.installations[lang][i]!.path = e.target.value))}
                        />
                      </Field>
                      <button
                        type="button"
                        className="ghost small"
                        style={{ marginTop: 22 }}
                        aria-label={`Remove ${LANGUAGE_LABELS[lang]} ${inst.version}`}
                        onClick={() => update((d) => void d.installations[lang].splice(i, 1))}
                      >
                        ✕
                      </button>
                    </div>
                  ))}
                </div>
              </div>
            ))}
          </div>
        </div>

        <div className="section">
          <div className="section-head">
            <div>
              <h3>Volume mounts</h3>
              <div className="hint">Data for content that runs in this environment only. Never mount Offhost's own data volume here.</div>
            </div>
            <button
              type="button"
              className="small"
              onClick={() => update((d) => void d.mounts.push({ type: 'pvc', nfs_host: '', nfs_export_path: '', pvc_name: '', path: '', read_only: true }))}
            >
              + Add mount
            </button>
          </div>
          <div className="rows">
            {draft.mounts.map((m, i) => (
              <div className="row mount" key={i}>
                <Field label="Type" error={err(`volume_mounts[${i}].source.volume_type`)}>
                  <select value={m.type} onChange={(e) => update((d) => void (d.mounts[i]!.type = e.target.value as MountDraft['type']))}>
                    <option value="pvc">PVC</option>
                    <option value="nfs">NFS</option>
                  </select>
                </Field>
                {m.type === 'nfs' ? (
                  <>
                    <Field label="NFS host" error={err(`volume_mounts[${i}].source.nfs_host`)}>
                      <input value={m.nfs_host} onChange={(e) => update((d) => void (d.mounts[i]!.nfs_host = e.target.value))} placeholder="nfs.example.com" />
                    </Field>
                    <Field label="Export path" error={err(`volume_mounts[${i}].source.nfs_export_path`)}>
                      <input className="mono" value={m.nfs_export_path} onChange={(e) => update((d) => void (d.mounts[i]!.nfs_export_path = e.target.value))} placeholder="/exports/data" />
                    </Field>
                  </>
                ) : (
                  <Field label="Claim name" className="claim" error={err(`volume_mounts[${i}].source.pvc_name`)}>
                    <input value={m.pvc_name} onChange={(e) => update((d) => void (d.mounts[i]!.pvc_name = e.target.value))} placeholder="shared-data" />
                  </Field>
                )}
                <Field label="Mount at" error={err(`volume_mounts[${i}].target.path`)}>
                  <input className="mono" value={m.path} onChange={(e) => update((d) => void (d.mounts[i]!.path = e.target.value))} placeholder="/mnt/data" />
                </Field>
                <label className="checkbox" style={{ marginTop: 26 }}>
                  <input type="checkbox" checked={m.read_only} onChange={(e) => update((d) => void (d.mounts[i]!.read_only = e.target.checked))} />
                  Read-only
                </label>
                <button type="button" className="ghost small" style={{ marginTop: 22 }} aria-label={`Remove mount ${i + 1}`} onClick={() => update((d) => void d.mounts.splice(i, 1))}>
                  ✕
                </button>
              </div>
            ))}
          </div>
        </div>
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}
