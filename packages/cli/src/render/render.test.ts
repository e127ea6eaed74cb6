import { describe, expect, it } from 'vitest';
import { renderFileDetail } from './file.render.js';
import { fileDetail, searchResult, SHA, status } from './fixtures.test-data.js';
import { formatBytes, printable, renderTable } from './format.js';
import { renderSearchResult } from './search.render.js';
import { aggregateStages, hasIntegrityMismatch, renderEvidenceList, renderEvidenceStatus, renderProgressLine } from './status.render.js';
import { formatRecordedTime } from './time.js';

describe('status rendering', () => {
  const text = renderEvidenceStatus(status);

  it('says whether processing is complete and lists the upload with its hashes and acquisition', () => {
    expect(text).toMatch(/^Evidence C1\/EX01: processing/);
    expect(text).toContain('phone-extraction.zip  4,823,117 bytes (4.6 MiB)  integrity: verified');
    expect(text).toContain(`sha256 ${SHA.zip}`);
    expect(text).toContain('examiner Zoë Ørsted, exhibit ZO/1');
  });

  it('shows files found and per-stage done/failed/pending', () => {
    expect(text).toContain('Files: 24 found (indexed 21, failed 2, in progress 1)');
    expect(text).toMatch(/thumbnail\s+19\s+2\s+1/);
    expect(text).toMatch(/hash\s+1\s+0\s+0/);
  });

  it('lists failures with reasons and findings, escaping control characters from evidence names', () => {
    expect(text).toContain('Failures (2)');
    expect(text).toMatch(/IMG_CORRUPT\.jpg\s+thumbnail\s+decode-failed: JPEG data is corrupt/);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('\\u001b[2Jevil.txt');
    expect(text).toMatch(/Findings \(1\)[\s\S]*notes\.txt\s+ext-mismatch\s+\.txt but image\/jpeg/);
  });

  it('shows why an archive stopped unpacking and how many members were recorded before it', () => {
    const stopped = {
      ...status,
      failures: [
        {
          fileId: 'f1',
          path: 'cut.tar',
          stage: 'unpack' as const,
          code: 'corrupt-file' as const,
          detail: 'tar entry 1 ends before its declared 8589934591 bytes',
          archive: { reason: 'truncated' as const, membersRecorded: 2, membersDeclared: null },
        },
      ],
    };
    expect(renderEvidenceStatus(stopped)).toMatch(/cut\.tar\s+unpack\s+unpack stopped \(truncated\), 2 members recorded: corrupt-file: tar entry 1/);
  });

  it('flags an integrity mismatch', () => {
    const bad = { ...status, uploads: status.uploads.map((u) => ({ ...u, integrity: 'mismatch' as const, mismatches: ['sha256'] })) };
    expect(hasIntegrityMismatch(bad)).toBe(true);
    expect(hasIntegrityMismatch(status)).toBe(false);
    expect(renderEvidenceStatus(bad)).toContain('MISMATCH with the acquisition hash: sha256');
  });

  it('aggregates stages across evidence items for --watch', () => {
    const two = aggregateStages([status, status]);
    expect(two.thumbnail).toEqual({ done: 38, failed: 4, pending: 2 });
    expect(renderProgressLine([status])).toBe(
      'processing: hash 1/1, identify 24/24, unpack 3/3, metadata 22/23 (1 failed), thumbnail 21/22 (2 failed), index 23/24 (2 failed)\n',
    );
  });

  it('renders the evidence list of a case', () => {
    const list = renderEvidenceList({ caseId: 'C1', items: [{ evidenceId: 'EX01', uploads: 1, files: 24, complete: true }, { evidenceId: 'EX02', uploads: 2, files: 0, complete: false }] });
    expect(list).toContain('Case C1: 2 evidence items, 1 complete');
    expect(list).toMatch(/EX02\s+2\s+0\s+processing/);
    expect(renderEvidenceList({ caseId: 'C9', items: [] })).toContain('no evidence uploaded yet');
  });
});

describe('search rendering', () => {
  const text = renderSearchResult(searchResult);
  const lines = text.split('\n');

  it('has a header and one row per hit with time as recorded (with offset), device, GPS, sha256 prefix, flags', () => {
    expect(lines[0]).toMatch(/^File id\s+Path\s+Type\s+Size\s+Taken at \(as recorded\)\s+Make\/model\s+GPS\s+SHA-256\s+Flags$/);
    const photo = lines.find((l) => l.includes('IMG_0001.jpg'))!;
    expect(photo).toContain('image/jpeg');
    expect(photo).toContain('2023-08-14T17:20:05 -03:00');
    expect(photo).toContain('samsung SM-G991B');
    expect(photo).toContain('-22.95192,-43.21049 710 m');
    expect(photo).toContain(SHA.photo.slice(0, 12));
    expect(photo).not.toContain(SHA.photo.slice(0, 13));
    const notes = lines.find((l) => l.includes('notes.txt'))!;
    expect(notes).toContain('2022-01-02T03:04:05 (local)');
    expect(notes).toMatch(/ext-mismatch$/);
  });

  it('tells how to get the next page', () => {
    expect(text).toContain('files 1-2 of 3 (next page: --offset 2)');
    expect(renderSearchResult({ total: 0, limit: 50, offset: 0, items: [] })).toBe('no files match (total 0)\n');
  });
});

describe('file detail rendering', () => {
  const text = renderFileDetail(fileDetail);

  it('shows the occurrence, content hashes, metadata as recorded and the provenance chain to the upload', () => {
    expect(text).toMatch(/^File fphoto0+1/);
    expect(text).toContain('phone-extraction.zip!/DCIM/Camera/IMG_0001.jpg');
    expect(text).toContain('archive modified2023-08-14T16:20:05 (no UTC offset recorded) [zip:dos-time]');
    expect(text).toContain(`sha256          ${SHA.photo}`);
    expect(text).toContain('taken at        2023-08-14T17:20:05 -03:00 [exif:DateTimeOriginal+OffsetTimeOriginal]');
    expect(text).toContain('taken at (UTC)  2023-08-14T20:20:05Z');
    expect(text).toContain('device          samsung SM-G991B');
    expect(text).toContain('GPS             -22.95192,-43.21049 710 m');
    expect(text).toContain('tools           identify: file-type 21.0.0; metadata: exifr 7.1.3');
    expect(text).toMatch(/0\. phone-extraction\.zip!\/DCIM\/Camera\/IMG_0001\.jpg\n\s+this file, entry #4/);
    expect(text).toMatch(/1\. phone-extraction\.zip\n\s+inside, sha256 5f0c/);
    expect(text).toContain('uploaded as C1/EX01/phone-extraction.zip, 4,823,117 bytes');
    expect(text).toContain(`examiner Zoë Ørsted, exhibit ZO/1, acquisition sha256 ${SHA.zip}`);
  });

  it('marks an incomplete provenance chain', () => {
    const broken = renderFileDetail({ ...fileDetail, provenance: { ...fileDetail.provenance, upload: null, complete: false } });
    expect(broken).toContain('Provenance (INCOMPLETE');
  });
});

describe('format helpers', () => {
  it('formats sizes and times', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatRecordedTime({ local: '2024-01-01T00:00:00', offsetMinutes: 330, utc: '2023-12-31T18:30:00Z', source: 'x' })).toBe('2024-01-01T00:00:00 +05:30');
    expect(formatRecordedTime({ local: '2024-01-01T00:00:00', offsetMinutes: null, utc: '2024-01-01T00:00:00Z', source: 'mp4' })).toBe('2024-01-01T00:00:00 (UTC)');
  });

  it('escapes terminal control and bidi characters', () => {
    expect(printable('a\u001b[31mb\u202ec\n')).toBe('a\\u001b[31mb\\u202ec\\u000a');
  });

  it('aligns table columns and truncates long cells', () => {
    const t = renderTable([{ a: 'x', b: '1' }, { a: 'longer', b: '22' }], [
      { header: 'A', value: (r) => r.a, maxWidth: 4 },
      { header: 'B', value: (r) => r.b, align: 'right' },
    ]);
    expect(t).toBe('A      B\nx      1\nlon…  22');
  });
});
