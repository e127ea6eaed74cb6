import { useState } from 'react';
import type { CustodyVerification } from '../lib/api-types';
import { apiGet, enc } from '../lib/api';
import { caseWideSubject, instantText } from '../lib/format';
import { Link } from '../lib/router';
import { ErrorNote, useApi } from '../lib/use-api';
import { DetailsView } from './details-view';

/**
 * The custody log of the case, entry by entry (time, actor, action, subject;
 * details on demand), and a button that re-verifies every signature and link
 * and re-hashes the evidence, showing the result per evidence item.
 */
export function CustodyScreen({ caseId }: { caseId: string }) {
  const { data, error } = useApi<CustodyVerification>(`/cases/${enc(caseId)}/custody/report?format=json`);
  const [verification, setVerification] = useState<CustodyVerification | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [verifyError, setVerifyError] = useState<string | null>(null);
  const [evidenceFilter, setEvidenceFilter] = useState('');
  const [actionFilter, setActionFilter] = useState('');

  const verify = async () => {
    setVerifying(true);
    setVerifyError(null);
    try {
      setVerification(await apiGet<CustodyVerification>(`/cases/${enc(caseId)}/custody/verify`));
    } catch (e) {
      setVerifyError(e instanceof Error ? e.message : String(e));
    } finally {
      setVerifying(false);
    }
  };

  const entries = (data?.items ?? [])
    .filter((i) => !evidenceFilter || i.evidenceId === evidenceFilter)
    .flatMap((i) => i.entries ?? [])
    .filter((e) => !actionFilter || e.action === actionFilter)
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : b.seq - a.seq));
  const actions = [...new Set((data?.items ?? []).flatMap((i) => (i.entries ?? []).map((e) => e.action)))].sort();

  return (
    <section aria-labelledby="custody-title">
      <h1 id="custody-title">Chain of custody</h1>
      <p>
        <button type="button" onClick={() => void verify()} disabled={verifying}>
          {verifying ? 'Verifying (re-hashing the evidence)…' : 'Verify the custody log and the evidence'}
        </button>{' '}
        <a href="#custody-entries">Entries</a>
      </p>
      {verifyError && (
        <p role="alert" className="error">
          {verifyError}
        </p>
      )}
      {verification && <VerificationResult v={verification} />}
      <ErrorNote error={error} />
      {data && (
        <>
          <h2 id="custody-entries">Entries</h2>
          <div className="toolbar">
            <label>
              Evidence item{' '}
              <select value={evidenceFilter} onChange={(e) => setEvidenceFilter(e.target.value)}>
                <option value="">all</option>
                {data.items.map((i) => (
                  <option key={i.evidenceId}>{i.evidenceId}</option>
                ))}
              </select>
            </label>
            <label>
              Action{' '}
              <select value={actionFilter} onChange={(e) => setActionFilter(e.target.value)}>
                <option value="">all</option>
                {actions.map((a) => (
                  <option key={a}>{a}</option>
                ))}
              </select>
            </label>
            <span>{entries.length.toLocaleString('en')} entries, newest first</span>
          </div>
          {data.items
            .filter((i) => i.firstBreak)
            .map((i) => (
              <p key={i.evidenceId} className="error" role="note">
                {i.evidenceId}: the log could not be verified past entry {i.firstBreak!.seq ?? '?'} ({i.firstBreak!.reason}); later entries of this item are not shown
                here. The “Who saw what” screen lists them from the custody index.
              </p>
            ))}
          <table className="grid-table" data-testid="custody-entries">
            <caption className="sr-only">Custody entries</caption>
            <thead>
              <tr>
                <th scope="col">Entry</th>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Subject</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.slice(0, 2000).map((e) => (
                <tr key={`${e.subject.evidenceId}-${e.seq}`} data-action={e.action}>
                  <td>
                    {e.subject.evidenceId} #{e.seq}
                  </td>
                  <td>{instantText(e.time)}</td>
                  <td>{e.actor}</td>
                  <td>{e.action}</td>
                  <td className="break">
                    {caseWideSubject(e.action, e.details, e.subject.caseId) ??
                      (e.subject.fileId ? <Link to={`/cases/${enc(caseId)}/files/${enc(e.subject.fileId)}`}>file {e.subject.fileId.slice(0, 12)}…</Link> : e.subject.blobName ?? 'the evidence item')}
                  </td>
                  <td>
                    <details>
                      <summary>details</summary>
                      <DetailsView details={e.details} />
                      <p className="mono break">
                        hash {e.hash} · previous {e.prevHash} · key {e.keyId}
                        {e.tools.length > 0 && ` · tools ${e.tools.map((t) => `${t.name} ${t.version}`).join(', ')}`}
                      </p>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {entries.length > 2000 && <p>The 2,000 newest entries are shown; filter by evidence item or action to see others.</p>}
        </>
      )}
    </section>
  );
}

function VerificationResult({ v }: { v: CustodyVerification }) {
  return (
    <div className={`panel ${v.ok ? 'ok' : 'bad'}`} role="status" data-testid="verification">
      <h2>{v.ok ? 'Verified: every log is intact and the evidence is unchanged' : 'Verification FAILED'}</h2>
      <p>Verified at {instantText(v.verifiedAt)}.</p>
      <ul>
        {v.items.map((i) => (
          <li key={i.evidenceId}>
            <strong>{i.evidenceId}</strong>: {i.ok ? 'intact' : 'BROKEN'} — {i.verifiedEntries} entries, head {i.headHash?.slice(0, 16) ?? '—'}…
            {i.firstBreak && (
              <>
                {' '}
                — first break: {i.firstBreak.reason} at entry {i.firstBreak.seq ?? '?'} ({i.firstBreak.detail})
              </>
            )}
            {i.evidenceChecked === false
              ? ' — evidence not re-hashed'
              : i.evidence.map((ev) => ` — ${ev.blobName}: ${ev.ok ? 'hash matches' : `HASH DIFFERS (${ev.actualSha256 ?? 'missing'})`}`)}
          </li>
        ))}
      </ul>
      {v.notes?.map((n) => (
        <p key={n}>{n}</p>
      ))}
    </div>
  );
}
