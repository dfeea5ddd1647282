// New content from a bundle: name it, pick the .tar.gz, upload, deploy. Three calls; if one fails
// the dialog stays open with the error next to its field, and a retry continues from that step
// (the content already made is reused, not made again).
import { useState } from 'react';
import { contentNameProblem } from '../../../shared/content';
import { Dialog } from '../components/Dialog';
import { Field } from '../components/Field';
import { fieldErrors, type FieldErrors } from '../format';
import { call, uploadBundle } from '../transport';

export function NewContentDialog(props: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [title, setTitle] = useState('');
  const [file, setFile] = useState<File | undefined>();
  const [deploy, setDeploy] = useState(true);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [step, setStep] = useState<string | undefined>();
  /** The content made by an earlier attempt whose upload or deploy failed. */
  const [made, setMade] = useState<{ guid: string; name: string } | undefined>();

  async function submit() {
    const problems: FieldErrors = {};
    const n = name.trim();
    if (!made) {
      const p = contentNameProblem(n);
      if (p) problems.name = p;
    }
    if (!file) problems.archive = 'Choose the bundle: a .tar.gz with manifest.json at its top.';
    else if (!/\.(tar\.gz|tgz)$/i.test(file.name)) problems.archive = `“${file.name}” is not a .tar.gz file.`;
    setErrors(problems);
    if (Object.keys(problems).length) return;
    let guid = made?.guid;
    try {
      if (!guid) {
        setStep('Creating…');
        const c = await call('content.create', { name: n, ...(title.trim() ? { title: title.trim() } : {}) });
        guid = c.guid;
        setMade({ guid, name: c.name });
      }
      setStep('Uploading…');
      const bundle = await uploadBundle(guid, file!).catch((e: unknown) => {
        throw Object.assign(e as Error, { place: 'archive' });
      });
      if (deploy) {
        setStep('Deploying…');
        await call('content.deploy', { guid, bundle_id: bundle.id });
      }
      props.onClose();
      window.location.hash = `#/content/${guid}`;
    } catch (e) {
      const found = fieldErrors(e);
      // Upload errors name manifest fields ("metadata.entrypoint"); they belong to the file.
      const place = (e as { place?: string }).place;
      setErrors(place ? { [place]: Object.values(found).join(' ') } : found);
    } finally {
      setStep(undefined);
    }
  }

  const unplaced = Object.entries(errors).filter(([f]) => !['name', 'title', 'archive'].includes(f));
  return (
    <Dialog
      narrow
      title="New content"
      onClose={props.onClose}
      footer={
        <>
          <button onClick={props.onClose}>Cancel</button>
          <button className="primary" disabled={step !== undefined} onClick={() => void submit()}>
            {step ?? (deploy ? 'Upload and deploy' : 'Upload')}
          </button>
        </>
      }
    >
      <form
        className="rows"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        {unplaced.length > 0 && (
          <div className="banner error" role="alert">
            {unplaced.map(([f, m]) => (
              <div key={f}>{m}</div>
            ))}
          </div>
        )}
        {made && (
          <div className="banner info">
            <span className="mono">{made.name}</span> was created; fix the bundle and upload again.
          </div>
        )}
        <Field label="Name" error={errors.name} hint="Letters, digits, “-” and “_”; it is part of the content’s address.">
          <input className="mono" value={made?.name ?? name} disabled={!!made} onChange={(e) => setName(e.target.value)} placeholder="sales-report" />
        </Field>
        <Field label="Title" error={errors.title} hint="Optional, shown instead of the name.">
          <input value={title} disabled={!!made} onChange={(e) => setTitle(e.target.value)} />
        </Field>
        <Field label="Bundle" error={errors.archive} hint="A .tar.gz with manifest.json at its top, as rsconnect writes it (rsconnect write-manifest, then tar czf).">
          <input type="file" accept=".tar.gz,.tgz,application/gzip" onChange={(e) => setFile(e.target.files?.[0])} />
        </Field>
        <label className="checkbox">
          <input type="checkbox" checked={deploy} onChange={(e) => setDeploy(e.target.checked)} />
          Deploy it now
        </label>
        <button type="submit" hidden />
      </form>
    </Dialog>
  );
}
