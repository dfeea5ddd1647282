// A content item's execution settings. Each resource field shows its allowed range and default
// (from the quotas); the shared validators run on every keystroke, so an out-of-range value is
// refused next to its field before anything is sent, and the core's own per-field errors land in
// the same place. Only fields that were changed are sent (a PATCH).
import { useMemo, useState } from 'react';
import { MAX_TIMEOUT_SECONDS, checkSettingsShape, parseContentChanges, type Content, type ContentChanges, type ContentSettings } from '../../../shared/content';
import type { Environment } from '../../../shared/environment';
import { formatMemory } from '../../../shared/quantity';
import { RESOURCE_FIELDS, validateExecutionSettings, type QuotasView, type ResourceField } from '../../../shared/quota';
import { Field } from '../components/Field';
import { fieldErrors, showBytes, showCores, type FieldErrors } from '../format';
import { call } from '../transport';

const NUMBER_FIELDS = ['init_timeout', 'idle_timeout', 'read_timeout', 'connection_timeout', 'min_processes', 'max_processes'] as const;
const TEXT_FIELDS = ['default_environment_guid', 'default_image_name', 'service_account_name'] as const;
type FormField = ResourceField | (typeof NUMBER_FIELDS)[number] | (typeof TEXT_FIELDS)[number];
const FIELDS: FormField[] = [...TEXT_FIELDS, ...RESOURCE_FIELDS, ...NUMBER_FIELDS];

const LABELS: Record<FormField, string> = {
  default_environment_guid: 'Environment',
  default_image_name: 'Image',
  service_account_name: 'Service account',
  cpu_request: 'CPU request',
  cpu_limit: 'CPU limit',
  memory_request: 'Memory request',
  memory_limit: 'Memory limit',
  init_timeout: 'Start-up timeout (s)',
  idle_timeout: 'Idle timeout (s)',
  read_timeout: 'Read timeout (s)',
  connection_timeout: 'Connection timeout (s)',
  min_processes: 'Min processes',
  max_processes: 'Max processes',
};

const isCpu = (f: ResourceField) => f === 'cpu_request' || f === 'cpu_limit';

/** The form's text for each stored value: cores as numbers, memory as quantities ("512Mi"). */
function textOf(c: Content, f: FormField): string {
  const v = c[f];
  if (v === null || v === undefined) return '';
  if (f === 'memory_request' || f === 'memory_limit') return formatMemory(v as number);
  return String(v);
}

interface Checked {
  changes: ContentChanges;
  problems: FieldErrors;
}

/** Every problem with the edited fields, and the PATCH they make (valid only without problems). */
function check(content: Content, edits: Partial<Record<FormField, string>>, quotas: QuotasView | undefined): Checked {
  const changed = FIELDS.filter((f) => edits[f] !== undefined && edits[f] !== textOf(content, f));
  const problems: FieldErrors = {};
  const changes: Record<string, unknown> = {};
  const value = (f: FormField) => (edits[f] ?? textOf(content, f)).trim();

  // Resources and the service account: the quota validator, as the core runs it (quantities allowed).
  const raw: Record<string, unknown> = {};
  for (const f of [...RESOURCE_FIELDS, 'service_account_name'] as const) raw[f] = value(f) === '' ? null : value(f);
  if (quotas) {
    const { settings, problems: list } = validateExecutionSettings(raw, quotas.quotas, { changed });
    for (const p of list) problems[p.field] ??= p.message;
    for (const f of [...RESOURCE_FIELDS, 'service_account_name'] as const) if (changed.includes(f)) changes[f] = settings[f];
  } else {
    // The ranges are still loading: send the values as typed and let the core check them.
    for (const f of [...RESOURCE_FIELDS, 'service_account_name'] as const)
      if (changed.includes(f)) changes[f] = raw[f] !== null && /^\d+(\.\d+)?$/.test(String(raw[f])) ? Number(raw[f]) : raw[f];
  }
  for (const f of NUMBER_FIELDS)
    if (changed.includes(f)) {
      const t = value(f);
      // Anything that is not a plain whole number goes as typed, so the shared parser names it.
      changes[f] = t === '' ? null : /^\d+$/.test(t) ? Number(t) : t;
    }
  if (changed.includes('default_environment_guid')) changes.default_environment_guid = value('default_environment_guid') || null;
  if (changed.includes('default_image_name')) changes.default_image_name = value('default_image_name') || null;

  let parsed: ContentChanges = {};
  try {
    parsed = parseContentChanges(Object.fromEntries(Object.entries(changes).filter(([f]) => !problems[f])));
    checkSettingsShape({ ...(content as ContentSettings), ...parsed } as ContentSettings);
  } catch (e) {
    for (const [f, m] of Object.entries(fieldErrors(e))) problems[f] ??= m;
  }
  return { changes: parsed, problems };
}

export function ContentSettingsForm(props: { content: Content; quotas: QuotasView | undefined; environments: Environment[]; disabled: boolean; onSaved: (saved: Content) => void }) {
  const { content, quotas } = props;
  const [edits, setEdits] = useState<Partial<Record<FormField, string>>>({});
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [saving, setSaving] = useState(false);
  const checked = useMemo(() => check(content, edits, quotas), [content, edits, quotas]);
  const dirty = Object.keys(checked.changes).length > 0 || Object.keys(checked.problems).length > 0;
  const errors = { ...serverErrors, ...checked.problems };
  const err = (f: FormField) => errors[f];
  const unplaced = Object.entries(serverErrors).filter(([f]) => !FIELDS.includes(f as FormField));

  const set = (f: FormField, v: string) => {
    setEdits((e) => ({ ...e, [f]: v }));
    setServerErrors((s) => {
      const { [f]: _gone, ...rest } = s;
      return rest;
    });
  };
  const value = (f: FormField) => edits[f] ?? textOf(content, f);

  async function save() {
    if (Object.keys(checked.problems).length) return;
    setSaving(true);
    try {
      const saved = await call('content.update', { guid: content.guid, changes: checked.changes });
      setEdits({});
      setServerErrors({});
      props.onSaved(saved);
    } catch (e) {
      setServerErrors(fieldErrors(e));
    } finally {
      setSaving(false);
    }
  }

  function rangeHint(f: ResourceField): string | undefined {
    if (!quotas) return undefined;
    const b = quotas.quotas[f];
    const show = isCpu(f) ? showCores : showBytes;
    return `Allowed ${show(b.min)} – ${show(b.max)}; empty: the default, ${show(b.default)}.`;
  }

  const sa = quotas?.quotas.service_accounts;
  const saOptions = [...(sa?.allowed ?? [])];
  if (content.service_account_name && !saOptions.includes(content.service_account_name)) saOptions.push(content.service_account_name);

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <fieldset disabled={props.disabled || saving} className="plain">
        {unplaced.length > 0 && (
          <div className="banner error" role="alert">
            {unplaced.map(([f, m]) => (
              <div key={f}>{m}</div>
            ))}
          </div>
        )}
        <div className="form-grid">
          <Field label={LABELS.default_environment_guid} error={err('default_environment_guid')} hint="Used when the manifest names no environment or image.">
            <select value={value('default_environment_guid')} onChange={(e) => set('default_environment_guid', e.target.value)}>
              <option value="">Automatic</option>
              {props.environments.map((env) => (
                <option key={env.guid} value={env.guid}>
                  {env.title}
                </option>
              ))}
            </select>
          </Field>
          <Field label={LABELS.default_image_name} error={err('default_image_name')} hint="Or name an image directly.">
            <input className="mono" value={value('default_image_name')} onChange={(e) => set('default_image_name', e.target.value)} placeholder="(none)" />
          </Field>
          {RESOURCE_FIELDS.map((f) => (
            <Field key={f} label={LABELS[f]} error={err(f)} hint={rangeHint(f)}>
              <input
                className="mono"
                value={value(f)}
                onChange={(e) => set(f, e.target.value)}
                placeholder={quotas ? `default ${isCpu(f) ? quotas.quotas[f].default : formatMemory(quotas.quotas[f].default)}` : ''}
                inputMode={isCpu(f) ? 'decimal' : 'text'}
              />
            </Field>
          ))}
          <Field
            label={LABELS.service_account_name}
            className="wide"
            error={err('service_account_name')}
            hint={sa && sa.allowed.length === 0 ? 'No service accounts are allowed for content; an admin can allow some on the Quotas page.' : 'Which Kubernetes identity the content runs as (admins only).'}
          >
            <select value={value('service_account_name')} onChange={(e) => set('service_account_name', e.target.value)}>
              <option value="">Default ({sa?.default ?? 'the namespace’s own, no token'})</option>
              {saOptions.map((n) => (
                <option key={n} value={n}>
                  {n}
                  {sa && !sa.allowed.includes(n) ? ' (no longer allowed)' : ''}
                </option>
              ))}
            </select>
          </Field>
          {NUMBER_FIELDS.map((f) => (
            <Field key={f} label={LABELS[f]} error={err(f)} hint={f.endsWith('timeout') ? `0 – ${MAX_TIMEOUT_SECONDS}; empty: server default.` : f === 'min_processes' ? '0 – 1000; empty: default.' : '1 – 1000; empty: default.'}>
              <input className="mono" value={value(f)} onChange={(e) => set(f, e.target.value)} inputMode="numeric" placeholder="default" />
            </Field>
          ))}
        </div>
        <div className="form-actions">
          <button type="button" disabled={!dirty} onClick={() => (setEdits({}), setServerErrors({}))}>
            Discard changes
          </button>
          <button type="submit" className="primary" disabled={!dirty || Object.keys(checked.problems).length > 0}>
            {saving ? 'Saving…' : 'Save settings'}
          </button>
        </div>
      </fieldset>
    </form>
  );
}
