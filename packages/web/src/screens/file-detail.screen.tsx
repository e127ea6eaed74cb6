import { useEffect, useState, type FormEvent } from 'react';
import type { FileDetail, RecordedTime, SearchResult } from '../lib/api-types';
import { apiBlob, apiGet, apiSend, ApiError, enc } from '../lib/api';
import { filterParams, queryString } from '../lib/filters';
import { bytesText, instantText, recordedText, visibleControls } from '../lib/format';
import { Link, navigate, useLocation } from '../lib/router';
import { hasRole, useSession } from '../lib/session';
import type { AccessEventList, TagList } from '../lib/tags';
import { useThumbnail } from '../lib/thumbnails';
import { ErrorNote, useApi } from '../lib/use-api';
import { actionText } from './access.screen';
import { DetailsView } from './details-view';
import { MediaPlayer } from './media-player';

/**
 * The image's embedded EXIF preview, beside its thumbnail: the picture a
 * preview-differs finding compares with the image. Fetched on request (each
 * fetch is recorded in custody as a view of the preview).
 */
function EmbeddedPreview({ caseId, fileId, differs }: { caseId: string; fileId: string; differs: boolean }) {
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
  if (url) {
    return (
      <figure className="embedded-preview">
        <img src={url} alt="Embedded EXIF preview, as the file stores it" data-testid="embedded-preview" />
        <figcaption>Embedded EXIF preview, as the file stores it{differs ? ': it differs from the image' : ''}</figcaption>
      </figure>
    );
  }
  const show = () => {
    apiBlob(`/cases/${enc(caseId)}/files/${enc(fileId)}/embedded-preview`)
      .then(({ blob }) => setUrl(URL.createObjectURL(blob)))
      .catch(() => setFailed(true));
  };
  return (
    <p>
      <button type="button" onClick={show}>
        Show the embedded EXIF preview{differs ? ' (it differs from the image)' : ''}
      </button>
      {failed && <span role="alert"> The preview could not be loaded.</span>}
    </p>
  );
}

export function FileDetailScreen({ caseId, fileId }: { caseId: string; fileId: string }) {
  const session = useSession();
  const { search } = useLocation();
  const back = `/cases/${enc(caseId)}/gallery${queryString(filterParams(search))}`;
  const { data, error } = useApi<FileDetail>(`/cases/${enc(caseId)}/files/${enc(fileId)}`);
  const content = data?.content ?? null;
  const thumb = useThumbnail(caseId, content?.sha256 ?? '', content?.thumbnailStatus === 'done');

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (e.key === 'Escape' && !(t && ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) navigate(back);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [back]);

  if (error) return <ErrorNote error={error} />;
  if (!data) return <p>Loading…</p>;
  const { file, provenance } = data;
  const md = content?.metadata ?? null;
  const times: Array<[string, RecordedTime]> = [];
  if (md?.takenAt) times.push([`Taken (${md.takenAt.source})`, md.takenAt]);
  for (const t of md?.captureTimes?.slice(1) ?? []) times.push([`Also recorded as taken (${t.source})`, t]);
  if (md?.modifiedAt) times.push([`Modified by software (${md.modifiedAt.source})`, md.modifiedAt]);
  for (const [k, t] of Object.entries(file.archiveTimes)) if (t) times.push([`Archive entry ${k} (${t.source})`, t]);

  return (
    <section className="detail" aria-labelledby="detail-title">
      <p>
        <Link to={back}>← Back to the gallery</Link> <span className="hint">(Escape)</span>
      </p>
      <h1 id="detail-title" className="break">
        {visibleControls(file.name)}
      </h1>
      <div className="detail-grid">
        <figure className="preview">
          {content?.thumbnailStatus === 'done' ? (
            thumb ? (
              <img src={thumb} alt={`Preview of ${visibleControls(file.name)}${content.thumbnailSource === 'contact-sheet' ? ' (video contact sheet)' : ''}`} data-testid="preview" />
            ) : (
              <span>Loading preview…</span>
            )
          ) : (
            <span>No preview ({content?.thumbnailStatus ?? 'not identified'})</span>
          )}
          {content?.thumbnailSource && <figcaption>Preview made from: {content.thumbnailSource}</figcaption>}
          {(content?.kind === 'video' || content?.kind === 'audio') &&
            file.sha256 &&
            (hasRole(session, 'examiner', 'supervisor') ? (
              // Keyed on the file: another file's page starts with no player and no link.
              <MediaPlayer key={file.fileId} caseId={caseId} fileId={fileId} name={file.name} mime={content.mime} />
            ) : (
              <p className="hint">Playback gives the file's bytes: examiners and supervisors play it.</p>
            ))}
          {content?.embeddedPreview && hasRole(session, 'examiner', 'supervisor') && (
            <EmbeddedPreview caseId={caseId} fileId={fileId} differs={(content.findings ?? []).some((f) => f.flag === 'preview-differs')} />
          )}
        </figure>
        <div>
          <h2>File</h2>
          <dl className="facts">
            <dt>Path in the evidence</dt>
            <dd className="mono break" data-testid="path">
              {visibleControls(file.path)}
            </dd>
            <dt>Evidence item</dt>
            <dd>{file.evidenceId}</dd>
            <dt>Size</dt>
            <dd>{bytesText(file.size)}</dd>
            <dt>Type</dt>
            <dd>
              {content?.mime ?? 'unknown'} ({content?.kind ?? '—'}){file.flags.includes('ext-mismatch') && <strong> — the extension does not fit the content</strong>}
            </dd>
            <dt>Processing</dt>
            <dd>
              {file.stage}
              {file.failure && (
                <strong>
                  {' '}
                  — failed at {file.failure.stage}: {file.failure.code} ({visibleControls(file.failure.detail)})
                </strong>
              )}
            </dd>
            {file.flags.length > 0 && (
              <>
                <dt>Flags</dt>
                <dd>{file.flags.join(', ')}</dd>
              </>
            )}
          </dl>
          <h2>Hashes</h2>
          <dl className="facts mono" data-testid="hashes">
            <dt>SHA-256</dt>
            <dd className="break">{file.sha256 ?? 'not yet computed'}</dd>
            <dt>SHA-1</dt>
            <dd className="break">{content?.sha1 ?? '—'}</dd>
            <dt>MD5</dt>
            <dd className="break">{content?.md5 ?? '—'}</dd>
          </dl>
          <h2>Times as recorded</h2>
          {times.length === 0 ? (
            <p>No times recorded.</p>
          ) : (
            <dl className="facts" data-testid="times">
              {times.map(([label, t], i) => (
                <div key={i}>
                  <dt>{label}</dt>
                  <dd>{recordedText(t)}</dd>
                </div>
              ))}
            </dl>
          )}
          <p className="hint">Shown exactly as the source recorded them, never converted to your time zone.</p>
          <h2>Location and camera</h2>
          <dl className="facts">
            <dt>GPS</dt>
            <dd data-testid="gps">
              {md?.gps ? `${md.gps.lat.toFixed(6)}, ${md.gps.lon.toFixed(6)}${md.gps.altM !== undefined ? `, ${md.gps.altM} m` : ''}` : md?.gpsRecorded ? `recorded but no location (${md.gpsRecorded.flag}: ${md.gpsRecorded.lat}, ${md.gpsRecorded.lon})` : 'none recorded'}
            </dd>
            <dt>Camera</dt>
            <dd>{[md?.make, md?.model].filter(Boolean).join(' ') || '—'}</dd>
            {md?.software && (
              <>
                <dt>Software</dt>
                <dd>{md.software}</dd>
              </>
            )}
            {md?.width && (
              <>
                <dt>Pixels</dt>
                <dd>
                  {md.width} × {md.height}
                  {md.durationSec !== undefined && `, ${md.durationSec} s`}
                </dd>
              </>
            )}
            {md?.audioStream && (
              <>
                <dt>Audio</dt>
                <dd>
                  {[md.audioStream.codec, md.audioStream.sampleRate !== undefined ? `${md.audioStream.sampleRate} Hz` : undefined, md.audioStream.channels !== undefined ? `${md.audioStream.channels} ch` : undefined]
                    .filter((p) => p !== undefined)
                    .join(', ')}
                  {!md.width && md.durationSec !== undefined && `, ${md.durationSec} s`}
                </dd>
              </>
            )}
          </dl>
          {hasRole(session, 'examiner', 'supervisor') && file.sha256 && <DownloadButton caseId={caseId} fileId={fileId} name={file.name} />}
        </div>
      </div>
      <Bookmarks caseId={caseId} fileId={fileId} />
      <h2>Provenance</h2>
      <ol className="provenance" data-testid="provenance">
        {provenance.chain.map((link, i) => (
          <li key={link.fileId}>
            <span className="break">
              {i === 0 ? 'This file' : `inside ${visibleControls(link.name)}`}: <span className="mono">{visibleControls(link.path)}</span>
            </span>
            <br />
            <span className="mono break">SHA-256 {link.sha256 ?? '—'}</span> · {bytesText(link.size)} · {link.mime ?? 'unknown type'}
            <ToolsList tools={link.tools} />
          </li>
        ))}
        {provenance.upload && (
          <li>
            Uploaded evidence <strong>{visibleControls(provenance.upload.fileName)}</strong> ({visibleControls(provenance.upload.blobName)}), received {instantText(provenance.upload.receivedAt)}
            {provenance.upload.uploadedBy ? ` from ${provenance.upload.uploadedBy}` : ''}; integrity {provenance.upload.integrity}
            <br />
            <span className="mono break">SHA-256 {provenance.upload.hashes?.sha256 ?? 'not yet hashed'}</span>
            {Object.keys(provenance.upload.acquisition).length > 0 && (
              <>
                <br />
                Acquisition: {Object.entries(provenance.upload.acquisition).map(([k, v]) => `${k}=${v}`).join(', ')}
              </>
            )}
          </li>
        )}
      </ol>
      {!provenance.complete && <p className="error">The chain is incomplete: a parent could not be found.</p>}
      {file.sha256 && <OtherOccurrences caseId={caseId} fileId={fileId} sha256={file.sha256} />}
      {hasRole(session, 'supervisor') ? <FileCustody caseId={caseId} fileId={fileId} /> : <p className="hint">This file's custody events are shown to supervisors.</p>}
    </section>
  );
}

function ToolsList({ tools }: { tools: Record<string, Array<{ name: string; version: string }>> }) {
  const entries = Object.entries(tools);
  if (entries.length === 0) return null;
  return (
    <ul className="tools">
      {entries.map(([stage, list]) => (
        <li key={stage}>
          {stage}: {list.map((t) => `${t.name} ${t.version}`).join(', ')}
        </li>
      ))}
    </ul>
  );
}

function OtherOccurrences({ caseId, fileId, sha256 }: { caseId: string; fileId: string; sha256: string }) {
  const { data } = useApi<SearchResult>(`/cases/${enc(caseId)}/files?hash=${sha256}&limit=100`);
  const others = data?.items.filter((h) => h.file.fileId !== fileId) ?? [];
  return (
    <>
      <h2>Other occurrences of the same content</h2>
      {data && others.length === 0 && <p>None: this content occurs once in the case.</p>}
      <ul data-testid="occurrences">
        {others.map((h) => (
          <li key={h.file.fileId}>
            <Link to={`/cases/${enc(caseId)}/files/${enc(h.file.fileId)}`}>{visibleControls(h.file.path)}</Link> ({h.file.evidenceId})
          </li>
        ))}
      </ul>
      {data && data.total > 100 && <p>…and {data.total - 100} more.</p>}
    </>
  );
}

function FileCustody({ caseId, fileId }: { caseId: string; fileId: string }) {
  const { data, error } = useApi<AccessEventList>(`/cases/${enc(caseId)}/access-events?fileId=${enc(fileId)}&limit=100`);
  return (
    <>
      <h2>Custody events of this file</h2>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>None recorded.</p>}
      <ul className="events">
        {data?.items.map((e) => (
          <li key={`${e.evidenceId}-${e.seq}`}>
            <details>
              <summary>
                {instantText(e.time)} — {e.actor} — {actionText(e.action, e.details)}
              </summary>
              <DetailsView details={e.details} />
            </details>
          </li>
        ))}
      </ul>
    </>
  );
}

function DownloadButton({ caseId, fileId, name }: { caseId: string; fileId: string; name: string }) {
  const [error, setError] = useState<string | null>(null);
  const download = async () => {
    setError(null);
    try {
      const d = await apiGet<{ url: string; fileName: string }>(`/cases/${enc(caseId)}/files/${enc(fileId)}/download`);
      // The link carries a short-lived, single-file ticket (not the token); each fetch is checked and recorded.
      const a = document.createElement('a');
      a.href = d.url;
      a.download = d.fileName;
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <p>
      <button type="button" onClick={() => void download()}>
        Download the original of {name}
      </button>{' '}
      <span className="hint">(recorded in custody)</span>
      {error && <span role="alert" className="error"> {error}</span>}
    </p>
  );
}

function Bookmarks({ caseId, fileId }: { caseId: string; fileId: string }) {
  const session = useSession();
  const canTag = hasRole(session, 'investigator', 'examiner', 'supervisor');
  const { data, error, reload } = useApi<TagList>(`/cases/${enc(caseId)}/tags?fileId=${enc(fileId)}`);
  const [tag, setTag] = useState('');
  const [note, setNote] = useState('');
  const [failure, setFailure] = useState<string | null>(null);
  const run = async (p: Promise<unknown>) => {
    setFailure(null);
    try {
      await p;
      reload();
    } catch (e) {
      setFailure(e instanceof ApiError && e.status === 409 ? 'This file already has that tag.' : e instanceof Error ? e.message : String(e));
    }
  };
  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!tag.trim()) return;
    void run(apiSend('POST', `/cases/${enc(caseId)}/tags`, { fileId, tag: tag.trim(), ...(note.trim() ? { note: note.trim() } : {}) })).then(() => {
      setTag('');
      setNote('');
    });
  };
  return (
    <section aria-labelledby="bookmarks-title" className="panel">
      <h2 id="bookmarks-title">Bookmarks and notes</h2>
      <ErrorNote error={error} />
      {data && data.items.length === 0 && <p>Not bookmarked.</p>}
      <ul className="tags" data-testid="file-tags">
        {data?.items.map((t) => (
          <TagRow key={t.tagId} caseId={caseId} t={t} canTag={canTag} run={run} />
        ))}
      </ul>
      {canTag && (
        <form onSubmit={add} className="inline-form">
          <label>
            Tag <input name="tag" value={tag} onChange={(e) => setTag(e.target.value)} maxLength={64} required />
          </label>
          <label>
            Note <input name="note" value={note} onChange={(e) => setNote(e.target.value)} maxLength={4000} size={40} />
          </label>
          <button type="submit">Bookmark</button>
        </form>
      )}
      {failure && (
        <p role="alert" className="error">
          {failure}
        </p>
      )}
    </section>
  );
}

function TagRow({ caseId, t, canTag, run }: { caseId: string; t: TagList['items'][number]; canTag: boolean; run: (p: Promise<unknown>) => Promise<void> }) {
  const [editing, setEditing] = useState(false);
  const [note, setNote] = useState(t.note);
  return (
    <li>
      <strong>{t.tag}</strong>
      {t.note && <> — {t.note}</>} <span className="hint">({t.updatedBy}, {instantText(t.updatedAt)})</span>
      {canTag && !editing && (
        <>
          {' '}
          <button type="button" onClick={() => setEditing(true)}>
            Edit note
          </button>{' '}
          <button type="button" onClick={() => void run(apiSend('DELETE', `/cases/${enc(caseId)}/tags/${enc(t.tagId)}`))}>
            Remove
          </button>
        </>
      )}
      {editing && (
        <form
          className="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(apiSend('PATCH', `/cases/${enc(caseId)}/tags/${enc(t.tagId)}`, { note })).then(() => setEditing(false));
          }}
        >
          <label>
            Note for {t.tag} <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={4000} size={40} />
          </label>
          <button type="submit">Save</button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </form>
      )}
    </li>
  );
}
