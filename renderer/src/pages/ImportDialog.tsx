// Import environments from YAML (a file or pasted text): all entries are checked first, and
// nothing changes unless every one is valid.
import { useState } from 'react';
import { AppError } from '../../../shared/errors';
import { Dialog } from '../components/Dialog';
import { call } from '../transport';

const EXAMPLE = `- name: ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy
  title: R 4.3 / Python 3.11
  matching: any
  r:
    installations:
      - { version: 4.3.1, path: /opt/R/4.3.1/bin/R }
  python:
    installations:
      - { version: 3.11.9, path: /opt/python/3.11.9/bin/python3 }
`;

export function ImportDialog(props: { onClose: () => void; onImported: (summary: string) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function run() {
    setBusy(true);
    setError(undefined);
    try {
      const r = await call('environments.importYaml', { yaml: text });
      props.onImported(`Imported: ${r.created.length} created, ${r.updated.length} updated, ${r.unchanged.length} unchanged.`);
    } catch (e) {
      const err = e as AppError;
      setError(err.field ? `${err.message} (at ${err.field})` : err.message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      title="Import environments from YAML"
      onClose={props.onClose}
      footer={
        <>
          <button onClick={props.onClose}>Cancel</button>
          <button className="primary" disabled={busy || !text.trim()} onClick={() => void run()}>
            Import
          </button>
        </>
      }
    >
      <p className="hint">
        A list of environments with the API's field names. Entries are matched to existing environments by image name: new ones are created, existing ones replaced.
      </p>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      <div className="toolbar" style={{ marginBottom: 8 }}>
        <input
          type="file"
          accept=".yaml,.yml,text/yaml,application/yaml"
          aria-label="YAML file"
          onChange={async (e) => {
            const file = e.target.files?.[0];
            if (file) setText(await file.text());
          }}
        />
        <button className="ghost small" onClick={() => setText(EXAMPLE)}>
          Insert example
        </button>
      </div>
      <textarea rows={16} value={text} onChange={(e) => setText(e.target.value)} aria-label="YAML" placeholder={EXAMPLE} />
    </Dialog>
  );
}
