import { useEffect, useState } from 'react';
import type { AppInfo } from '../../../shared/api';
import { call, signOut } from '../transport';

export function SettingsPage() {
  const [info, setInfo] = useState<AppInfo | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    call('app.info').then(setInfo, (e: Error) => setError(e.message));
  }, []);
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>Settings</h1>
          <p>Where this Offhost keeps its data. Set these with environment variables (see the README); editing them here is coming.</p>
        </div>
      </div>
      {error && <div className="banner error">{error}</div>}
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
    </div>
  );
}
