import type { DiskImage, RecordedTime } from '../lib/api-types';
import { bytesText, recordedText, visibleControls } from '../lib/format';

/**
 * An evidence item's disk images as the pipeline read them (docs/disk-images.md, docs/review-app.md "Disk images"):
 * container and the check of the hashes stored in it, the EWF acquisition header, each volume, and the volume system's
 * problems and notes in words. What `exhibit status` prints, for the examiner who reviews in the browser.
 */
export function DiskImagesSection({ images, evidenceId }: { images: DiskImage[]; evidenceId: string }) {
  if (images.length === 0) return null;
  return (
    <section aria-labelledby={`disk-${evidenceId}`} data-testid="disk-images">
      <h3 id={`disk-${evidenceId}`}>Disk image{images.length === 1 ? '' : 's'}</h3>
      {images.map((d) => (
        <DiskImagePanel key={d.fileId} d={d} />
      ))}
    </section>
  );
}

const FORMAT_NAMES: Record<string, string> = {
  raw: 'raw image (dd)',
  'split-raw': 'split raw image',
  ewf: 'EWF (E01)',
  'vhd-fixed': 'VHD, fixed',
  'vhd-dynamic': 'VHD, dynamic',
};

const SCHEME_NAMES: Record<DiskImage['volumes'][number]['scheme'], string> = { mbr: 'MBR', gpt: 'GPT', none: 'no partition table' };

/** What a note's code means, said once before its recorded message (volume notes: read-past-entry). */
const NOTE_MEANINGS: Record<string, string> = {
  'read-past-entry': 'the file system is larger than its partition entry and was read on past the entry, as The Sleuth Kit reads it',
  'cross-link-check-not-made': 'the check for directories sharing clusters was not made on this FAT volume; its files are listed as the FAT says',
};

/**
 * Said once above the volume problems. Neutral on whether each part was read: some were not (an entry outside the disk),
 * some were read anyway (a partition running past the end read as far as the disk goes, a GPT entry array failing its
 * CRC-32, a sector size inferred), as the recorded message says.
 */
export const VOLUME_PROBLEMS_INTRO = 'Faults found in the volume system, each as recorded with the entry it concerns.';

function storesHash(d: DiskImage): boolean {
  return Boolean(d.storedHashes?.md5 || d.storedHashes?.sha1);
}

/** The stored-hash check in words; a split raw set or a VHD stores no hash, so its 'failed' is media not readable whole. */
function integrityText(d: DiskImage): string {
  switch (d.integrity) {
    case 'verified':
      return 'verified: the hashes stored in the image match the media data read';
    case 'mismatch':
      return `MISMATCH (${d.mismatches.join(', ')}): the media data read does not match the hash stored in the image`;
    case 'failed':
      return storesHash(d)
        ? 'NOT VERIFIED: the hashes stored in the image could not be checked against its media'
        : 'MEDIA NOT READABLE WHOLE: the media could not be read whole';
    case 'no-reference':
      return d.format === 'ewf' ? 'cannot be checked: the image stores no hash' : 'cannot be checked: this format stores no hash of its media';
    default:
      return 'not checked yet';
  }
}

/** The segments' file names in order; a long set (a split image may have thousands) as its first three … its last. */
function segmentNames(d: DiskImage): string {
  const names = d.segments.map((s) => visibleControls(s.name.slice(s.name.lastIndexOf('/') + 1)));
  return names.length > 6 ? `${names.slice(0, 3).join(', ')} … ${names[names.length - 1]}` : names.join(', ');
}

function volumeName(v: DiskImage['volumes'][number]): string {
  return v.scheme === 'none' ? 'whole disk (no partition table)' : `${SCHEME_NAMES[v.scheme]} ${v.index}`;
}

/** Where a note or problem lies, as recorded ('mbr 2', 'ebr 4', 'gpt header'), with the scheme in capitals. */
function whereText(where: string): string {
  return visibleControls(where.replace(/^(mbr|ebr|gpt)\b/, (s) => s.toUpperCase()));
}

/**
 * Whether the media is damaged in words. The image-media-damaged flag is set only when part of the media is lost or a
 * chunk failed its acquisition checksum while the media was read; media never read whole (a raw or VHD image, an E01
 * with no stored hash, a check given up, stopped or not yet run) carries no flag without being known sound, so 'no' is
 * said only when the stored-hash check read the media whole (verified or mismatch).
 */
export function mediaDamagedText(d: Pick<DiskImage, 'mediaDamaged' | 'integrity'>): string {
  if (d.mediaDamaged === undefined) return 'not reported by this server';
  if (d.mediaDamaged) return 'yes: the media fails a checksum its acquisition wrote, or part of it is lost; it is not as acquired';
  if (d.integrity === 'verified' || d.integrity === 'mismatch') return 'no';
  return d.integrity === 'pending' ? 'not known yet: the media has not been read whole' : 'not known: the media was not read whole';
}

function headerText(h: Record<string, unknown>, key: string): string | undefined {
  const v = h[key];
  return typeof v === 'string' && v !== '' ? visibleControls(v) : undefined;
}

function headerTime(h: Record<string, unknown>, key: string): string | undefined {
  const v = h[key] as RecordedTime | undefined;
  return v && typeof v.local === 'string' ? recordedText(v) : undefined;
}

function DiskImagePanel({ d }: { d: DiskImage }) {
  const id = `disk-image-${d.fileId}`;
  const bad = d.integrity === 'mismatch' || d.integrity === 'failed' || d.mediaDamaged === true;
  const issues = d.volumeIssues;
  const problems = issues.filter((i) => i.kind === 'problem');
  const notes = issues.filter((i) => i.kind === 'note');
  const h = d.ewfHeader;
  const header = h
    ? ([
        ['Case number', headerText(h, 'caseNumber')],
        ['Evidence number', headerText(h, 'evidenceNumber')],
        ['Examiner', headerText(h, 'examiner')],
        ['Description', headerText(h, 'description')],
        ['Acquired', headerTime(h, 'acquisitionDate')],
        ['Acquiring software version', headerText(h, 'acquiringSoftwareVersion')],
        ['Acquiring operating system', headerText(h, 'operatingSystem')],
        ['Notes', headerText(h, 'notes')],
      ].filter(([, v]) => v !== undefined) as Array<[string, string]>)
    : [];
  return (
    <article className={`panel ${bad ? 'bad' : ''}`} aria-labelledby={id} data-disk-image={visibleControls(d.path)}>
      <h4 id={id} className="mono">
        {visibleControls(d.path)}
      </h4>
      <dl className="facts">
        <dt>Format</dt>
        <dd data-testid="disk-format">{FORMAT_NAMES[d.format] ?? d.format}</dd>
        <dt>Media</dt>
        <dd>{bytesText(d.mediaBytes)}</dd>
        <dt>Segments</dt>
        <dd>
          {d.segmentCount === 1 ? (
            'one file'
          ) : (
            <>
              {d.segmentCount} files read as one image:{' '}
              <span className="mono">{segmentNames(d)}</span>
            </>
          )}
        </dd>
        <dt>Integrity</dt>
        <dd>
          <span className={`integrity ${d.integrity === 'failed' ? 'mismatch' : d.integrity}`} data-testid="disk-integrity" data-integrity={d.integrity}>
            {integrityText(d)}
          </span>
          {d.integrityDetail && <span data-testid="disk-integrity-detail"> — {visibleControls(d.integrityDetail)}</span>}
        </dd>
        <dt>Media damaged</dt>
        <dd data-testid="disk-media-damaged">
          {d.mediaDamaged === true ? <strong className="integrity mismatch">{mediaDamagedText(d)}</strong> : mediaDamagedText(d)}
        </dd>
      </dl>
      {(d.storedHashes || d.computedHashes) && (
        <table className="grid-table compact" data-testid="disk-hashes">
          <caption>Hashes of the media</caption>
          <thead>
            <tr>
              <th scope="col">Algorithm</th>
              <th scope="col">Stored in the image</th>
              <th scope="col">Computed from the media read</th>
            </tr>
          </thead>
          <tbody>
            {(['md5', 'sha1', 'sha256'] as const).map((alg) => {
              const stored = alg === 'sha256' ? undefined : d.storedHashes?.[alg];
              const computed = d.computedHashes?.[alg];
              if (!stored && !computed) return null;
              return (
                <tr key={alg}>
                  <th scope="row">{alg === 'sha1' ? 'SHA-1' : alg.toUpperCase().replace('SHA256', 'SHA-256')}</th>
                  <td className="mono">{stored ? visibleControls(stored) : '—'}</td>
                  <td className="mono">
                    {computed ?? '—'}
                    {d.mismatches.includes(alg) ? <strong className="integrity mismatch"> (differs)</strong> : ''}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {h && (
        <>
          <h5>Acquisition header (EWF)</h5>
          {header.length === 0 ? (
            <p>The header records none of the usual fields.</p>
          ) : (
            <dl className="facts" data-testid="ewf-header">
              {header.map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          )}
        </>
      )}
      <table className="grid-table" data-testid="disk-volumes">
        <caption>Volumes</caption>
        <thead>
          <tr>
            <th scope="col">Volume</th>
            <th scope="col">Offset (bytes)</th>
            <th scope="col">Size</th>
            <th scope="col">Partition type</th>
            <th scope="col">File system</th>
            <th scope="col">Files listed</th>
          </tr>
        </thead>
        <tbody>
          {d.volumes.length === 0 && (
            <tr>
              <td colSpan={6}>No volume was found.</td>
            </tr>
          )}
          {d.volumes.map((v) => (
            <tr key={`${v.scheme}-${v.index}`} data-volume={`${v.scheme} ${v.index}`}>
              <th scope="row">{volumeName(v)}</th>
              <td>{v.offset.toLocaleString('en')}</td>
              <td>{bytesText(v.size)}</td>
              <td>
                <span className="mono">{v.type ? visibleControls(v.type) : '—'}</span>
                {v.label ? ` ${visibleControls(v.label)}` : ''}
              </td>
              <td>
                {v.fileSystem ?? <strong>not read</strong>}
                {v.problem && (
                  <>
                    {v.fileSystem ? <>{' — '}<strong>stopped</strong></> : null}: {visibleControls(v.problem.message)} ({visibleControls(v.problem.code)})
                  </>
                )}
              </td>
              <td>{v.fileSystem ? v.entries.toLocaleString('en') : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {problems.length > 0 && (
        <>
          <h5>Volume problems</h5>
          <p data-testid="volume-problems-intro">{VOLUME_PROBLEMS_INTRO}</p>
          <ul data-testid="volume-problems">
            {problems.map((p, i) => (
              <li key={i}>
                {p.where ? <strong>{whereText(p.where)}</strong> : null}
                {p.code ? ` (${visibleControls(p.code)})` : ''}
                {p.where || p.code ? ': ' : ''}
                {visibleControls(p.message)}
              </li>
            ))}
          </ul>
        </>
      )}
      {notes.length > 0 && (
        <>
          <h5>Volume notes</h5>
          <p>How a volume was read, with nothing failing.</p>
          <ul data-testid="volume-notes">
            {notes.map((n, i) => (
              <li key={i}>
                <strong>{whereText(n.where)}</strong> ({visibleControls(n.code ?? '')}){n.code && NOTE_MEANINGS[n.code] ? `: ${NOTE_MEANINGS[n.code]}` : ''}. {visibleControls(n.message)}
              </li>
            ))}
          </ul>
        </>
      )}
    </article>
  );
}
