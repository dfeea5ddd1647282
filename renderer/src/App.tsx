// App shell: navigation on the left, one page on the right; the page lives in the URL hash.
import { useEffect, useState } from 'react';
import { EnvironmentsPage } from './pages/EnvironmentsPage';
import { ContentPage } from './pages/ContentPage';
import { JobDetail } from './processes/JobDetail';
import { ProcessesPage } from './processes/ProcessesPage';
import { QuotasPage } from './pages/QuotasPage';
import { SettingsPage } from './pages/SettingsPage';

const PAGES = [
  { id: 'environments', label: 'Environments', icon: '▦' },
  { id: 'content', label: 'Content', icon: '❐' },
  { id: 'processes', label: 'Processes', icon: '≋' },
  { id: 'quotas', label: 'Quotas', icon: '◔' },
  { id: 'settings', label: 'Settings', icon: '⚙' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

/** "#/content/<guid>" -> page "content", rest "<guid>". */
function currentRoute(): { page: PageId; rest: string } {
  const [id = '', ...rest] = window.location.hash.replace(/^#\/?/, '').split('/');
  return { page: (PAGES.find((p) => p.id === id)?.id ?? 'environments') as PageId, rest: rest.join('/') };
}

/** "<guid>/<key>" -> one job's page. */
function jobRoute(rest: string): { guid: string; jobKey: string } | undefined {
  const [guid, jobKey] = rest.split('/');
  return guid && jobKey ? { guid, jobKey } : undefined;
}

export function App() {
  const [route, setRoute] = useState(currentRoute);
  const page = route.page;
  const [signedOut, setSignedOut] = useState(false);
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    const onSignedOut = () => setSignedOut(true);
    window.addEventListener('hashchange', onHash);
    window.addEventListener('offhost:signed-out', onSignedOut);
    return () => {
      window.removeEventListener('hashchange', onHash);
      window.removeEventListener('offhost:signed-out', onSignedOut);
    };
  }, []);
  useEffect(() => {
    document.title = `${PAGES.find((p) => p.id === page)!.label} · Offhost`;
  }, [page]);

  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <span className="brand-mark" aria-hidden>
            ◆
          </span>
          Offhost
        </div>
        {PAGES.map((p) => (
          <a key={p.id} className="nav-link" href={`#/${p.id}`} aria-current={page === p.id ? 'page' : undefined}>
            <span className="nav-icon" aria-hidden>
              {p.icon}
            </span>
            {p.label}
          </a>
        ))}
        <div className="sidebar-foot">Off-host execution on Kubernetes</div>
      </nav>
      <main className="main">
        {signedOut && (
          <div className="page">
            <div className="banner error" role="alert">
              Your session has ended. Sign in again with a new sign-in address: run <code>npx offhost login</code> where the
              server runs (sign-in addresses work once, for 15 minutes).
            </div>
          </div>
        )}
        {page === 'environments' && <EnvironmentsPage />}
        {page === 'content' && <ContentPage guid={route.rest || undefined} />}
        {page === 'processes' && (jobRoute(route.rest) ? <JobDetail key={route.rest} {...jobRoute(route.rest)!} /> : <ProcessesPage />)}
        {page === 'quotas' && <QuotasPage />}
        {page === 'settings' && <SettingsPage />}
      </main>
    </div>
  );
}
