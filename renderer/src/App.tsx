// App shell: navigation on the left, one page on the right; the page lives in the URL hash.
import { useEffect, useState } from 'react';
import { EnvironmentsPage } from './pages/EnvironmentsPage';
import { ComingSoon } from './pages/ComingSoon';
import { SettingsPage } from './pages/SettingsPage';

const PAGES = [
  { id: 'environments', label: 'Environments', icon: '▦' },
  { id: 'content', label: 'Content', icon: '❐' },
  { id: 'processes', label: 'Processes', icon: '≋' },
  { id: 'quotas', label: 'Quotas', icon: '◔' },
  { id: 'settings', label: 'Settings', icon: '⚙' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function currentPage(): PageId {
  const id = window.location.hash.replace(/^#\/?/, '');
  return (PAGES.find((p) => p.id === id)?.id ?? 'environments') as PageId;
}

export function App() {
  const [page, setPage] = useState<PageId>(currentPage);
  const [signedOut, setSignedOut] = useState(false);
  useEffect(() => {
    const onHash = () => setPage(currentPage());
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
        {page === 'content' && (
          <ComingSoon title="Content" lead="Deployed bundles and how each one runs.">
            <li>Upload a bundle (a directory or tar.gz with manifest.json) and see which environment it gets and why.</li>
            <li>Per-content execution settings: environment or image, CPU and memory requests and limits, service account, timeouts.</li>
          </ComingSoon>
        )}
        {page === 'processes' && (
          <ComingSoon title="Processes" lead="Every build, render and app run as a Kubernetes Job.">
            <li>A live table of jobs with their state, node, image and current CPU and memory.</li>
            <li>History charts per job, logs, and cancel.</li>
          </ComingSoon>
        )}
        {page === 'quotas' && (
          <ComingSoon title="Quotas" lead="Bounds for what content may ask of the cluster.">
            <li>Global minimum and maximum for CPU and memory requests and limits, and the defaults.</li>
            <li>Which content a change would affect, before you save it.</li>
          </ComingSoon>
        )}
        {page === 'settings' && <SettingsPage />}
      </main>
    </div>
  );
}
