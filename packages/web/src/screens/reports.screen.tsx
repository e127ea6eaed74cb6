import { useState } from 'react';
import { apiBlob, apiGet, enc, saveBlob } from '../lib/api';
import { filterParams, queryString } from '../lib/filters';
import { instantText } from '../lib/format';
import { useLocation } from '../lib/router';
import { hasRole, useSession } from '../lib/session';

interface ExportRecord {
  exportId: string;
  format: string;
  sha256: string;
  bytes: number;
  items: number;
  producedBy: string;
  producedAt: string;
  /** False: cut short (the hash is of the part sent, not a whole report). */
  complete: boolean;
  stoppedBy?: string;
  planned?: number;
}

/**
 * Reports: the bookmarked files, or the current filter, as a self-contained
 * HTML page, CSV or JSON. The API streams the export and records it in
 * custody with the SHA-256 of exactly the bytes sent; that hash is shown
 * here next to the download, to be written down with the report.
 */
export function ReportsScreen({ caseId }: { caseId: string }) {
  const session = useSession();
  const { search } = useLocation();
  const current = filterParams(search, { withSort: false });
  const [scope, setScope] = useState<'bookmarks' | 'filter'>(current.get('tagged') === 'true' || current.toString() === '' ? 'bookmarks' : 'filter');
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<ExportRecord[]>([]);
  const [error, setError] = useState<string | null>(null);
  const allowed = hasRole(session, 'investigator', 'examiner', 'supervisor');

  const run = async (format: 'html' | 'csv' | 'json') => {
    setBusy(format);
    setError(null);
    try {
      const q = scope === 'bookmarks' ? new URLSearchParams({ tagged: 'true', ...(current.get('tag') ? { tag: current.get('tag')! } : {}) }) : new URLSearchParams(current);
      q.set('format', format);
      const { blob, headers } = await apiBlob(`/cases/${enc(caseId)}/export?${q.toString()}`);
      const disposition = headers.get('content-disposition') ?? '';
      const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${caseId}-export.${format}`;
      const exportId = headers.get('x-exhibit-export-id');
      // Asked before saving, as the CLI does: a body a proxy ended cleanly after the server cut the export short
      // must not reach the examiner's disk looking like a whole report.
      const record = exportId ? await apiGet<ExportRecord>(`/cases/${enc(caseId)}/exports/${enc(exportId)}`) : null;
      if (record && record.complete !== true) {
        setDone((d) => [record, ...d]);
        setError(`Export ${record.exportId} stopped before its end and is recorded in custody as INCOMPLETE; the file was not saved.`);
        return;
      }
      saveBlob(blob, name);
      if (record) setDone((d) => [record, ...d]);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby="reports-title">
      <h1 id="reports-title">Reports</h1>
      {!allowed && <p>Your role cannot export from this case.</p>}
      <fieldset>
        <legend>What to export</legend>
        <label>
          <input type="radio" name="scope" checked={scope === 'bookmarks'} onChange={() => setScope('bookmarks')} /> The bookmarked files
          {current.get('tag') ? ` tagged “${current.get('tag')}”` : ''}
        </label>
        <label>
          <input type="radio" name="scope" checked={scope === 'filter'} onChange={() => setScope('filter')} /> The files of the current filter{' '}
          <code>{queryString(current) || '(no filter: the whole case)'}</code>
        </label>
      </fieldset>
      <p>
        <button type="button" disabled={!allowed || busy !== null} onClick={() => void run('html')}>
          {busy === 'html' ? 'Exporting…' : 'Download HTML report'}
        </button>{' '}
        <button type="button" disabled={!allowed || busy !== null} onClick={() => void run('csv')}>
          {busy === 'csv' ? 'Exporting…' : 'Download CSV'}
        </button>{' '}
        <button type="button" disabled={!allowed || busy !== null} onClick={() => void run('json')}>
          {busy === 'json' ? 'Exporting…' : 'Download JSON'}
        </button>
      </p>
      <p className="hint">Each export is recorded in the custody log of every evidence item of the case, with the SHA-256 of the file you receive.</p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {done.length > 0 && (
        <table className="grid-table" data-testid="exports">
          <caption>Exports made in this session</caption>
          <thead>
            <tr>
              <th scope="col">Export</th>
              <th scope="col">Format</th>
              <th scope="col">Files</th>
              <th scope="col">SHA-256 of the report</th>
              <th scope="col">Produced</th>
            </tr>
          </thead>
          <tbody>
            {done.map((r) => (
              <tr key={r.exportId}>
                <td className="mono">{r.exportId}</td>
                <td>{r.format}</td>
                <td>
                  {r.items}
                  {r.complete !== true && (
                    <strong className="error" data-testid="export-incomplete">
                      {' '}
                      INCOMPLETE{r.stoppedBy ? `: ${r.stoppedBy}` : ''}
                      {r.planned !== undefined ? ` (of ${r.planned})` : ''}
                    </strong>
                  )}
                </td>
                <td className="mono break">{r.sha256}</td>
                <td>
                  {r.producedBy}, {instantText(r.producedAt)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
