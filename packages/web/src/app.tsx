import { lazy, Suspense, useEffect, useState, type ReactNode } from 'react';
import { loadAppConfig, type AppConfig } from './lib/app-config';
import { Link, matchPath, navigate, useLocation } from './lib/router';
import { hasRole, setSession, useSession } from './lib/session';
import { useApi } from './lib/use-api';
import { AccessScreen } from './screens/access.screen';
import { AssignmentsScreen } from './screens/assignments.screen';
import { BookmarksScreen } from './screens/bookmarks.screen';
import { CaseScreen, CasesScreen } from './screens/cases.screen';
import { CustodyScreen } from './screens/custody.screen';
import { FileDetailScreen } from './screens/file-detail.screen';
import { GalleryScreen } from './screens/gallery.screen';
import { RejectedBlobsScreen } from './screens/rejected-blobs.screen';
import { ReportsScreen } from './screens/reports.screen';
import { SignInScreen } from './screens/sign-in.screen';
import { TimelineScreen } from './screens/timeline.screen';

// The map carries the bundled basemap (about 0.5 MB): loaded only when it is opened.
const MapScreen = lazy(() => import('./screens/map.screen').then((m) => ({ default: m.MapScreen })));

type CaseRoute = { pattern: string; label: string | null; render: (p: Record<string, string>) => ReactNode; supervisor?: boolean };

const CASE_ROUTES: CaseRoute[] = [
  { pattern: '/cases/:caseId', label: 'Evidence', render: (p) => <CaseScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/gallery', label: 'Gallery', render: (p) => <GalleryScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/map', label: 'Map', render: (p) => <MapScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/timeline', label: 'Timeline', render: (p) => <TimelineScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/bookmarks', label: 'Bookmarks', render: (p) => <BookmarksScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/reports', label: 'Reports', render: (p) => <ReportsScreen caseId={p.caseId!} /> },
  { pattern: '/cases/:caseId/custody', label: 'Custody', render: (p) => <CustodyScreen caseId={p.caseId!} />, supervisor: true },
  { pattern: '/cases/:caseId/access', label: 'Who saw what', render: (p) => <AccessScreen caseId={p.caseId!} />, supervisor: true },
  { pattern: '/cases/:caseId/assignments', label: 'Assignments', render: (p) => <AssignmentsScreen caseId={p.caseId!} />, supervisor: true },
  { pattern: '/cases/:caseId/files/:fileId', label: null, render: (p) => <FileDetailScreen caseId={p.caseId!} fileId={p.fileId!} /> },
];

export function App() {
  const [config, setConfig] = useState<AppConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const session = useSession();
  const { pathname, search } = useLocation();
  // The cases this user is on (no custody entry: /me reads only the assignments). A case outside
  // it shows nothing of itself, not even its name in the navigation.
  const me = useApi<{ cases: string[] }>(session ? '/me' : null, { key: session?.token ?? '' });

  useEffect(() => {
    loadAppConfig()
      .then(async (c) => {
        if (c.auth.kind === 'entra') {
          const m = await import('./lib/entra-auth');
          await m.resumeEntra(c.auth);
        }
        setConfig(c);
      })
      .catch((e: unknown) => setConfigError(e instanceof Error ? e.message : String(e)));
  }, []);

  useEffect(() => {
    const title = routeTitle(pathname);
    document.title = title ? `${title} — Exhibit` : 'Exhibit review';
  }, [pathname]);

  if (configError) return <main><h1>Exhibit</h1><p role="alert">The app could not start: {configError}</p></main>;
  if (!config) return <main><h1>Exhibit</h1><p>Loading…</p></main>;
  if (!session) return <SignInScreen config={config} />;
  if (pathname === '/' || pathname === '/sign-in') {
    navigate('/cases', { replace: true });
    return null;
  }

  const signOut = () => {
    if (config.auth.kind === 'entra') {
      const auth = config.auth;
      void import('./lib/entra-auth').then((m) => m.signOutEntra(auth));
    } else {
      setSession(null);
      navigate('/', { replace: true });
    }
  };

  let content: ReactNode = (
    <section>
      <h1>Not found</h1>
      <p>
        There is nothing at this address. <Link to="/cases">Your cases</Link>
      </p>
    </section>
  );
  let caseId: string | null = null;
  if (pathname === '/cases') content = <CasesScreen />;
  else if (pathname === '/admin/rejected-blobs') content = <RejectedBlobsScreen />;
  else {
    for (const r of CASE_ROUTES) {
      const p = matchPath(r.pattern, pathname);
      if (!p) continue;
      const assigned = me.data?.cases.includes(p.caseId!) ?? false;
      // Admins manage assignments of cases they are not on; nothing else of such a case is shown.
      const adminOnly = !assigned && hasRole(session, 'admin') && r.pattern.endsWith('/assignments');
      if (!me.data) content = <p>Loading…</p>;
      else if (assigned || adminOnly) {
        caseId = assigned ? p.caseId! : null;
        content = r.render(p);
      }
      break;
    }
  }

  const filterQuery = (() => {
    const q = new URLSearchParams(search);
    q.delete('box');
    const s = q.toString();
    return s ? `?${s}` : '';
  })();

  return (
    <div className="shell">
      <a className="skip-link" href="#main-content">
        Skip to content
      </a>
      <header className="top">
        <nav aria-label="Main">
          <Link to="/cases" className="brand">
            Exhibit
          </Link>
          <Link to="/cases">Cases</Link>
          {hasRole(session, 'admin') && <Link to="/admin/rejected-blobs">Rejected blobs</Link>}
        </nav>
        <div className="who">
          <span data-testid="signed-in-as">
            {session.user} ({session.roles.join(', ')})
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {caseId && (
        <nav className="case-nav" aria-label={`Case ${caseId}`}>
          <span className="case-id">Case {caseId}</span>
          {CASE_ROUTES.filter((r) => r.label && (!r.supervisor || hasRole(session, 'supervisor', 'admin'))).map((r) => {
            const to = r.pattern.replace(':caseId', encodeURIComponent(caseId!));
            const keep = ['/gallery', '/map', '/timeline', '/reports'].some((s) => to.endsWith(s));
            const active = matchPath(r.pattern, pathname) !== null;
            return (
              <Link key={r.pattern} to={keep ? to + filterQuery : to} aria-current={active ? 'page' : undefined}>
                {r.label}
              </Link>
            );
          })}
        </nav>
      )}
      <main id="main-content" className="content">
        <Suspense fallback={<p>Loading…</p>}>{content}</Suspense>
      </main>
    </div>
  );
}

function routeTitle(pathname: string): string | null {
  if (pathname === '/cases') return 'Cases';
  if (pathname === '/admin/rejected-blobs') return 'Rejected blobs';
  for (const r of CASE_ROUTES) if (matchPath(r.pattern, pathname)) return r.label ?? 'File';
  return null;
}
