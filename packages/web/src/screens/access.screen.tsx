import { useState, type FormEvent } from 'react';
import { enc } from '../lib/api';
import { instantText } from '../lib/format';
import { Link, navigate, useLocation } from '../lib/router';
import type { AccessEventList } from '../lib/tags';
import { ErrorNote, useApi } from '../lib/use-api';
import { DetailsView } from './details-view';

const ACTIONS = ['search', 'view', 'thumbnail-view', 'download', 'export', 'read', 'bookmark', 'verify', 'assignment-change'];

/** Who viewed, downloaded or exported what: filterable by user, file and action. */
export function AccessScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const user = search.get('user') ?? '';
  const fileId = search.get('fileId') ?? '';
  const action = search.get('action') ?? 'view,thumbnail-view,download,export';
  const offset = Number(search.get('offset') ?? 0) || 0;
  const q = new URLSearchParams({ limit: '100', offset: String(offset), action });
  if (user) q.set('user', user);
  if (fileId) q.set('fileId', fileId);
  const { data, error } = useApi<AccessEventList>(`/cases/${enc(caseId)}/access-events?${q.toString()}`);
  const [draft, setDraft] = useState({ user, fileId, action });

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (draft.user.trim()) p.set('user', draft.user.trim());
    if (draft.fileId.trim()) p.set('fileId', draft.fileId.trim());
    if (draft.action) p.set('action', draft.action);
    navigate(`/cases/${enc(caseId)}/access?${p.toString()}`);
  };

  return (
    <section aria-labelledby="access-title">
      <h1 id="access-title">Who saw what</h1>
      <form onSubmit={apply} className="filters" aria-label="Filter access events">
        <label>
          User <input name="user" value={draft.user} onChange={(e) => setDraft({ ...draft, user: e.target.value })} />
        </label>
        <label>
          File id <input name="fileId" value={draft.fileId} onChange={(e) => setDraft({ ...draft, fileId: e.target.value })} size={30} />
        </label>
        <label>
          Actions{' '}
          <select name="action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
            <option value="view,thumbnail-view,download,export">viewed, downloaded, exported</option>
            <option value="download">downloads</option>
            <option value="export">exports</option>
            <option value="view,thumbnail-view">views</option>
            <option value="bookmark">bookmarks</option>
            <option value="read">reads (status, export records, cached thumbnails)</option>
            <option value={ACTIONS.join(',')}>everything</option>
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      <ErrorNote error={error} />
      {data && data.byActor.length > 0 && (
        <>
          <h2>By user</h2>
          <table className="grid-table compact" data-testid="by-actor">
            <caption className="sr-only">Counts per user and action</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Action</th>
                <th scope="col">Count</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {data.byActor.map((r) => (
                <tr key={`${r.actor}-${r.action}`}>
                  <td>
                    <Link to={`/cases/${enc(caseId)}/access?user=${enc(r.actor)}&action=${enc(action)}`}>{r.actor}</Link>
                  </td>
                  <td>{r.action}</td>
                  <td>{r.count}</td>
                  <td>{instantText(r.last)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {data && (
        <>
          <h2>
            Events ({offset + 1}–{offset + data.items.length} of {data.total})
          </h2>
          <table className="grid-table" data-testid="access-events">
            <caption className="sr-only">Access events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">User</th>
                <th scope="col">Action</th>
                <th scope="col">File</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((e) => (
                <tr key={`${e.evidenceId}-${e.seq}`}>
                  <td>{instantText(e.time)}</td>
                  <td>{e.actor}</td>
                  <td>{actionText(e.action, e.details)}</td>
                  <td className="break">
                    {e.fileId ? (
                      <>
                        <Link to={`/cases/${enc(caseId)}/files/${enc(e.fileId)}`}>{e.path ?? e.fileId}</Link>{' '}
                        <Link to={`/cases/${enc(caseId)}/access?fileId=${enc(e.fileId)}&action=${enc(action)}`} aria-label={`Everyone who accessed ${e.path ?? e.fileId}`}>
                          (who else)
                        </Link>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <details>
                      <summary>details</summary>
                      <DetailsView details={e.details} />
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p>
            {offset > 0 && <Link to={`/cases/${enc(caseId)}/access?${pageQuery(search, Math.max(0, offset - 100))}`}>Newer</Link>}{' '}
            {offset + data.items.length < data.total && <Link to={`/cases/${enc(caseId)}/access?${pageQuery(search, offset + 100)}`}>Older</Link>}
          </p>
        </>
      )}
    </section>
  );
}

function pageQuery(search: URLSearchParams, offset: number): string {
  const p = new URLSearchParams(search);
  p.set('offset', String(offset));
  return p.toString();
}

/**
 * An export recorded as cut short is marked INCOMPLETE (as in the custody report), never shown as a finished one.
 * Bytes played in the app's player are downloads (the bytes left) and say so.
 */
export function actionText(action: string, details: Record<string, unknown>): string {
  if (action === 'download' && details.delivery === 'playback') return 'download (playback)';
  if (action === 'download' && details.delivery === 'playback-url') return 'download (playback link)';
  if (action !== 'export' || details.complete === true) return action;
  return `export (INCOMPLETE${typeof details.stoppedBy === 'string' ? `: ${details.stoppedBy}` : ''})`;
}
