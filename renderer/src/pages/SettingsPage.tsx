import { useEffect, useState } from 'react';
import type { AppInfo } from '../../../shared/api';
import { call, signOut } from '../transport';
import { savedTheme, setTheme, type ThemeChoice } from '../theme';
import { PackageSourcesCard } from './PackageSourcesCard';

export function SettingsPage() {
  const [info, setInfo] = useState<AppInfo | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [theme, setThemeState] = useState<ThemeChoice>(savedTheme);
  useEffect(() => {
    call('app.info').then(setInfo, (e: Error) => setError(e.message));
  }, []);
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p>How this Offhost looks, where it keeps its data (set with environment variables; see the README), and where build jobs get packages.</p>
        </div>
      </div>
      {error && <div className="banner error">{error}</div>}
      <fieldset className="card card-body appearance">
        <legend>Appearance</legend>
        <div className="segmented" role="radiogroup" aria-label="Theme">
          {(['system', 'light', 'dark'] as const).map((t) => (
            <label key={t} className={theme === t ? 'on' : undefined}>
              <input
                type="radio"
                name="theme"
                value={t}
                checked={theme === t}
                onChange={() => {
                  setTheme(t);
                  setThemeState(t);
                }}
              />
              {t === 'system' ? 'Same as the system' : t === 'light' ? 'Light' : 'Dark'}
            </label>
          ))}
        </div>
        <p className="hint">Kept in this browser or desktop app.</p>
      </fieldset>
      {info && (
        <div className="card card-body">
          <dl className="kv">
            <dt>Version</dt>
            <dd>{info.version}</dd>
            <dt>Running as</dt>
            <dd>{info.mode === 'desktop' ? 'Desktop app' : 'Headless server'}</dd>
            <dt>Database</dt>
            <dd>
              {info.database.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} · <span className="mono">{info.database.location}</span>
            </dd>
            <dt>Environments file</dt>
            <dd>{info.environmentsFile ? <span className="mono">{info.environmentsFile}</span> : 'none (OFFHOST_ENVIRONMENTS_FILE is not set)'}</dd>
            <dt>Signed in as</dt>
            <dd>
              {info.user.name} ({info.user.role})
              {signOut && info.mode === 'server' && (
                <button type="button" className="small sign-out" onClick={() => signOut!().catch((e: Error) => setError(e.message))}>
                  Sign out
                </button>
              )}
            </dd>
          </dl>
        </div>
      )}
      {info && <PackageSourcesCard canEdit={info.user.role === 'admin'} />}
    </div>
  );
}
