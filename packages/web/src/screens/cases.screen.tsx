import type { CaseSummary, EvidenceStatus } from '../lib/api-types';
import { enc } from '../lib/api';
import { bytesText, instantText, visibleControls } from '../lib/format';
import { Link } from '../lib/router';
import { DiskImagesSection } from './disk-image-section';
import { ErrorNote, useApi } from '../lib/use-api';

export function CasesScreen() {
  const { data, error } = useApi<{ cases: CaseSummary[] }>('/cases', { pollMs: 5000 });
  return (
    <section aria-labelledby="cases-title">
      <h1 id="cases-title">Your cases</h1>
      <ErrorNote error={error} />
      {data && data.cases.length === 0 && <p>You are not assigned to any case.</p>}
      {data && data.cases.length > 0 && (
        <table className="grid-table">
          <caption className="sr-only">Cases you can open</caption>
          <thead>
            <tr>
              <th scope="col">Case</th>
              <th scope="col">Your role</th>
              <th scope="col">Evidence items</th>
              <th scope="col">Files</th>
              <th scope="col">Processing</th>
              {data.cases.some((c) => c.assignees !== undefined) && <th scope="col">Assignees</th>}
            </tr>
          </thead>
          <tbody>
            {data.cases.map((c) => (
              <tr key={c.caseId}>
                <td>{c.assigned === false ? <span>{c.caseId} (not assigned to you)</span> : <Link to={`/cases/${enc(c.caseId)}`}>{c.caseId}</Link>}</td>
                <td>{c.role ?? (c.assigned === false ? '—' : 'your token roles')}</td>
                <td>{c.evidence}</td>
                <td>{c.files.toLocaleString('en')}</td>
                <td>{c.complete ? 'complete' : c.evidence === 0 ? 'no evidence yet' : 'in progress'}</td>
                {c.assignees !== undefined && (
                  <td>
                    {c.assignees}{' '}
                    <Link to={`/cases/${enc(c.caseId)}/assignments`} aria-label={`Assignments of ${c.caseId}`}>
                      manage
                    </Link>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** One case: its evidence items with live progress, integrity, disk images, failures and findings. */
export function CaseScreen({ caseId }: { caseId: string }) {
  const { data, error } = useApi<{ items: Array<{ evidenceId: string; uploads: number; files: number; complete: boolean }> }>(`/cases/${enc(caseId)}/evidence`, {
    pollMs: 5000,
  });
  return (
    <section aria-labelledby="case-title">
      <h1 id="case-title">Evidence of case {caseId}</h1>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>No evidence has been received for this case yet.</p>}
      {data?.items.map((e) => <EvidencePanel key={e.evidenceId} caseId={caseId} evidenceId={e.evidenceId} />)}
    </section>
  );
}

const STAGES = ['hash', 'identify', 'unpack', 'metadata', 'thumbnail', 'index'] as const;

function EvidencePanel({ caseId, evidenceId }: { caseId: string; evidenceId: string }) {
  // Polls while processing runs; stops once the item is complete.
  const { data: s, error } = useApi<EvidenceStatus>(`/cases/${enc(caseId)}/evidence/${enc(evidenceId)}/status`, {
    pollMs: 2000,
    pollWhile: (st) => !st.complete,
  });
  const done = s?.complete;
  const deadLettered = s?.failures.filter((f) => f.code === 'dead-lettered' || f.archive?.reason === 'dead-lettered') ?? [];
  return (
    <article className="panel" aria-labelledby={`ev-${evidenceId}`} data-evidence={evidenceId}>
      <h2 id={`ev-${evidenceId}`}>
        {evidenceId} <span className={done ? 'badge ok' : 'badge busy'}>{s ? (done ? 'complete' : 'processing') : '…'}</span>
      </h2>
      <ErrorNote error={error} />
      {s && (
        <>
          <p>
            {s.files.total.toLocaleString('en')} files found · {(s.files.byStage.indexed ?? 0).toLocaleString('en')} indexed ·{' '}
            {(s.files.byStage.failed ?? 0).toLocaleString('en')} failed
          </p>
          <table className="grid-table compact">
            <caption>Progress per stage</caption>
            <thead>
              <tr>
                <th scope="col">Stage</th>
                <th scope="col">Done</th>
                <th scope="col">Pending</th>
                <th scope="col">Failed</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody>
              {STAGES.map((st) => {
                const c = s.stages[st] ?? { done: 0, pending: 0, failed: 0 };
                const total = c.done + c.pending + c.failed;
                return (
                  <tr key={st}>
                    <th scope="row">{st}</th>
                    <td>{c.done}</td>
                    <td>{c.pending}</td>
                    <td>{c.failed}</td>
                    <td>
                      <progress max={Math.max(total, 1)} value={c.done + c.failed} aria-label={`${st}: ${c.done + c.failed} of ${total}`} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <h3>Uploads and integrity</h3>
          <ul className="uploads">
            {s.uploads.map((u) => (
              <li key={u.blobName}>
                <strong>{visibleControls(u.fileName)}</strong> ({bytesText(u.size)}) — integrity:{' '}
                <span className={`integrity ${u.integrity}`} data-integrity={u.integrity}>
                  {u.integrity === 'verified'
                    ? 'verified: the computed hash matches the acquisition hash'
                    : u.integrity === 'mismatch'
                      ? `MISMATCH (${u.mismatches.join(', ')}): the bytes are not what was acquired`
                      : u.integrity === 'no-reference'
                        ? 'no acquisition hash was given to check against'
                        : 'pending'}
                </span>
                <br />
                <span className="mono">SHA-256 {u.hashes?.sha256 ?? 'not yet computed'}</span> · received {instantText(u.receivedAt)}
                {u.uploadedBy ? ` by ${u.uploadedBy}` : ''}
              </li>
            ))}
          </ul>
          <DiskImagesSection images={s.diskImages ?? []} evidenceId={evidenceId} />
          {s.failures.length > 0 && (
            <details open={s.failures.length <= 10}>
              <summary>
                {s.failures.length} failed file{s.failures.length === 1 ? '' : 's'}
                {deadLettered.length > 0 ? `, ${deadLettered.length} dead-lettered` : ''}
              </summary>
              <ul className="failures">
                {s.failures.map((f) => (
                  <li key={f.fileId}>
                    <Link to={`/cases/${enc(caseId)}/files/${enc(f.fileId)}`}>{visibleControls(f.path)}</Link> — {f.stage}: <strong>{f.code}</strong>
                    {f.code === 'dead-lettered' ? ' (dead-lettered: given up after repeated faults)' : ''} — {visibleControls(f.detail)}
                    {f.archive && ` (archive ${f.archive.reason}: ${f.archive.membersRecorded} of ${f.archive.membersDeclared ?? '?'} members recorded)`}
                  </li>
                ))}
              </ul>
            </details>
          )}
          {s.findings.length > 0 && (
            <details>
              <summary>{s.findings.length} findings</summary>
              <ul>
                {s.findings.map((f, i) => (
                  <li key={i}>
                    {f.fileId ? <Link to={`/cases/${enc(caseId)}/files/${enc(f.fileId)}`}>{visibleControls(f.path)}</Link> : visibleControls(f.path)}: <strong>{f.flag}</strong> — {visibleControls(f.detail)}
                  </li>
                ))}
              </ul>
            </details>
          )}
          <p>
            <Link to={`/cases/${enc(caseId)}/gallery?evidenceId=${enc(evidenceId)}`}>Open {evidenceId} in the gallery</Link>
          </p>
        </>
      )}
    </article>
  );
}
