import { enc } from '../lib/api';
import { instantText } from '../lib/format';
import { Link, navigate, useLocation } from '../lib/router';
import type { TagList } from '../lib/tags';
import { ErrorNote, useApi } from '../lib/use-api';

/** Every bookmark of the case (a tag with its note), by everyone on it. */
export function BookmarksScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const tag = search.get('tag');
  const { data, error } = useApi<TagList>(`/cases/${enc(caseId)}/tags?limit=500${tag ? `&tag=${enc(tag)}` : ''}`);
  return (
    <section aria-labelledby="bookmarks-title">
      <h1 id="bookmarks-title">Bookmarks</h1>
      <ErrorNote error={error} />
      {data && (
        <p>
          Tags:{' '}
          <button type="button" onClick={() => navigate(`/cases/${enc(caseId)}/bookmarks`)} aria-pressed={!tag}>
            all ({data.counts.reduce((n, c) => n + c.count, 0)})
          </button>{' '}
          {data.counts.map((c) => (
            <button key={c.tag} type="button" aria-pressed={tag === c.tag} onClick={() => navigate(`/cases/${enc(caseId)}/bookmarks?tag=${enc(c.tag)}`)}>
              {c.tag} ({c.count})
            </button>
          ))}{' '}
          <Link to={`/cases/${enc(caseId)}/gallery?tagged=true${tag ? `&tag=${enc(tag)}` : ''}`}>Show in the gallery</Link> ·{' '}
          <Link to={`/cases/${enc(caseId)}/reports?tagged=true${tag ? `&tag=${enc(tag)}` : ''}`}>Report on these</Link>
        </p>
      )}
      {data && data.items.length === 0 && <p>Nothing is bookmarked yet. Open a file and add a tag with a note.</p>}
      {data && data.items.length > 0 && (
        <table className="grid-table" data-testid="bookmarks">
          <caption className="sr-only">Bookmarked files</caption>
          <thead>
            <tr>
              <th scope="col">Tag</th>
              <th scope="col">Note</th>
              <th scope="col">File</th>
              <th scope="col">SHA-256</th>
              <th scope="col">By</th>
              <th scope="col">Last changed</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((t) => (
              <tr key={t.tagId}>
                <td>{t.tag}</td>
                <td>{t.note || '—'}</td>
                <td className="break">
                  <Link to={`/cases/${enc(caseId)}/files/${enc(t.fileId)}`}>{t.path}</Link>
                </td>
                <td className="mono break">{t.sha256 ?? '—'}</td>
                <td>{t.createdBy === t.updatedBy ? t.createdBy : `${t.createdBy}, ${t.updatedBy}`}</td>
                <td>{instantText(t.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
