// "Which environment would this manifest get?": runs the same selection the launcher will, and
// shows the choice with its reasons, or why nothing fits.
import { useState } from 'react';
import { LANGUAGE_LABELS, type Environment, type Language } from '../../../shared/environment';
import { DEFAULT_VERSION_MATCHING, STRATEGIES, type MatchedLanguage, type Selection, type Strategy } from '../../../shared/selection';
import { Dialog } from '../components/Dialog';
import { Field } from '../components/Field';
import { call } from '../transport';

const EXAMPLE_MANIFEST = JSON.stringify(
  { version: 1, platform: '4.3.1', metadata: { appmode: 'shiny', entrypoint: 'app.R' }, python: { version: '3.11.5' } },
  null,
  2,
);

const STEP_LABELS: Record<string, string> = {
  'manifest-identifier': 'manifest environment.identifier',
  'manifest-image': 'manifest environment.image',
  'content-environment': 'content default environment',
  'content-image': 'content default image',
  automatic: 'automatic selection',
  manifest: 'reading the manifest',
};

export function SelectionTester(props: { environments: Environment[]; onClose: () => void }) {
  const [manifest, setManifest] = useState(EXAMPLE_MANIFEST);
  const [defaultEnv, setDefaultEnv] = useState('');
  const [defaultImage, setDefaultImage] = useState('');
  const [matching, setMatching] = useState<Record<MatchedLanguage, Strategy>>({ ...DEFAULT_VERSION_MATCHING });
  const [result, setResult] = useState<Selection | undefined>();
  const [error, setError] = useState<string | undefined>();

  async function run() {
    setError(undefined);
    try {
      setResult(
        await call('environments.select', {
          manifest,
          content: { default_environment_guid: defaultEnv || null, default_image_name: defaultImage.trim() || null },
          versionMatching: matching,
        }),
      );
    } catch (e) {
      setResult(undefined);
      setError((e as Error).message);
    }
  }

  return (
    <Dialog
      title="Which environment would this bundle get?"
      onClose={props.onClose}
      footer={
        <>
          <button onClick={props.onClose}>Close</button>
          <button className="primary" onClick={() => void run()}>
            Test
          </button>
        </>
      }
    >
      <div className="tester">
        <div className="rows">
          <Field label="manifest.json" error={error} hint="Paste the bundle's manifest.json; only the runtime and environment fields matter.">
            <textarea rows={12} value={manifest} onChange={(e) => setManifest(e.target.value)} spellCheck={false} />
          </Field>
          <Field label="Content default environment" hint="Used when the manifest names neither an environment nor an image.">
            <select value={defaultEnv} onChange={(e) => setDefaultEnv(e.target.value)}>
              <option value="">(none)</option>
              {props.environments.map((e) => (
                <option key={e.guid} value={e.guid}>
                  {e.title}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Content default image">
            <input className="mono" value={defaultImage} onChange={(e) => setDefaultImage(e.target.value)} placeholder="(none)" />
          </Field>
          <div>
            <div className="label">Version matching</div>
            <div className="form-grid" style={{ marginTop: 4 }}>
              {(Object.keys(matching) as MatchedLanguage[]).map((lang) => (
                <Field key={lang} label={LANGUAGE_LABELS[lang as Language]}>
                  <select value={matching[lang]} onChange={(e) => setMatching({ ...matching, [lang]: e.target.value as Strategy })}>
                    {STRATEGIES.map((s) => (
                      <option key={s}>{s}</option>
                    ))}
                  </select>
                </Field>
              ))}
            </div>
          </div>
        </div>
        <div aria-live="polite">
          {!result && <div className="hint">Press Test to see the choice and the reasons for it.</div>}
          {result?.ok && (
            <div className="result-card ok" data-testid="selection-result">
              <div className="hint">Chosen by {STEP_LABELS[result.step]}</div>
              <h2 style={{ margin: '4px 0' }}>{result.environment.title}</h2>
              <div className="image-ref">{result.environment.name}</div>
              <ul className="reasons">
                {result.reasons.map((r, i) => (
                  <li key={i}>{r}</li>
                ))}
              </ul>
            </div>
          )}
          {result && !result.ok && (
            <div className="result-card fail" data-testid="selection-result">
              <div className="hint">Failed at {STEP_LABELS[result.step]}</div>
              <h2 style={{ margin: '4px 0' }}>No environment fits</h2>
              <p>{result.summary}</p>
            </div>
          )}
          {result && result.candidates.length > 0 && (
            <div style={{ marginTop: 12 }}>
              <h3>Candidates</h3>
              <table className="candidates">
                <tbody>
                  {result.candidates.map((c) => (
                    <tr key={c.guid}>
                      <td>
                        <div className="cell-title">{c.title}</div>
                        <div className="image-ref">{c.name}</div>
                      </td>
                      <td>{c.problems.length ? <span className="field-error">{c.problems.join('; ')}</span> : <span className="badge any">fits</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      </div>
    </Dialog>
  );
}
