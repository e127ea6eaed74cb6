import { describe, expect, it } from 'vitest';
import { volumeProblemText } from '@exhibit/core';
import { formatOrientation, formatToolVersion, renderFileDetail } from './file.render.js';
import { fileDetail, searchResult, SHA, status } from './fixtures.test-data.js';
import { displayWidth, ellipsizePath, formatBytes, layoutTable, printable, renderTable } from './format.js';
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

  it('fits its failure and finding tables to the width, keeping file names', () => {
    const deep = {
      ...status,
      failures: status.failures.map((f, i) => (i === 0 ? { ...f, path: 'phone-extraction.zip!/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG_CORRUPT.jpg' } : f)),
    };
    for (const width of [60, 80, 120]) {
      const text = renderEvidenceStatus(deep, { width });
      const table = text.slice(text.indexOf('Failures'));
      for (const line of table.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(width);
      expect(table).toMatch(/…\/(?:[^\n]*\/)?IMG_CORRUPT\.jpg\s+thumbnail\s+decode-failed/);
      expect(table).toMatch(/notes\.txt\s+ext-mismatch/);
    }
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

  it('shows a declared split image waiting for segments, and an orphan later segment waiting for its first', () => {
    const waiting = {
      ...status,
      imageSegments: {
        declared: [
          {
            firstSegment: 'card.E01', declaredBy: 'erin', declaredAt: '2026-12-04T23:00:00.000Z',
            segments: [{ fileName: 'card.E01', size: 10, received: true }, { fileName: 'card.E02', size: 10, received: false }, { fileName: 'card.E03', size: 9, received: false }],
            missing: ['card.E02', 'card.E03'],
          },
          { firstSegment: 'done.001', declaredBy: 'erin', declaredAt: '2026-12-04T23:00:00.000Z', segments: [], missing: [] },
        ],
        orphans: [{ fileName: 'disk.002', firstSegment: 'disk.001' }],
      },
    };
    const text = renderEvidenceStatus(waiting);
    expect(text).toContain('Split images waiting');
    expect(text).toContain('card.E01: 1 of 3 declared segments received; waiting for card.E02, card.E03');
    expect(text).toContain('disk.002: orphan segment, waiting for its first segment disk.001 (no image read from it yet)');
    expect(text).not.toContain('done.001');
    expect(renderEvidenceStatus(status)).not.toContain('Split images waiting');
  });

  it('declared-segment-unhashed-no-reason-shown: a received later segment of a declared set, still unhashed, says it waits for its first segment\'s read', () => {
    const upload = status.uploads[0]!;
    const waiting = {
      ...status,
      uploads: [{ ...upload, fileName: 'card.E01' }, { ...upload, fileName: 'card.E02', integrity: 'pending' as const, hashes: null, hashedAt: null }],
      imageSegments: {
        declared: [{
          firstSegment: 'card.E01', declaredBy: 'erin', declaredAt: '2026-12-04T23:00:00.000Z',
          segments: [{ fileName: 'card.E01', size: 10, received: true }, { fileName: 'card.E02', size: 10, received: true }],
          missing: [],
        }],
        orphans: [],
      },
    };
    const text = renderEvidenceStatus(waiting);
    expect(text).toContain("card.E02  ");
    expect(text).toContain("waiting for its first segment's read (hashed in card.E01's unpack, or by its own hash stage once that is over)");
    expect(text.match(/waiting for its first segment's read/g)).toHaveLength(1);
  });

  it('shows a disk image with its EWF header, stored-hash check and volumes; a mismatch is an integrity problem', () => {
    const image = {
      fileId: 'f1', caseId: status.caseId, evidenceId: status.evidenceId, path: 'card.E01', format: 'ewf', mediaBytes: 34_816_000, segmentCount: 1,
      segments: [{ name: 'CASE-15/CARD-1/card.E01', size: 20_000_000, etag: '"0x1"' }],
      volumes: [
        { index: 0, offset: 1_048_576, size: 33_554_432, scheme: 'mbr' as const, type: '0x0c', label: 'FAT32 (LBA)', fileSystem: 'fat32', problem: null, entries: 5 },
        { index: 1, offset: 34_603_008, size: 1_048_576, scheme: 'mbr' as const, type: '0x83', label: '', fileSystem: null, problem: { code: 'corrupt-file', message: 'ext: 0 blocks per group is impossible' }, entries: 0 },
      ],
      volumeProblems: [],
      ewfHeader: { caseNumber: 'CASE-15', evidenceNumber: 'CARD-1', examiner: 'Examiner Jones', notes: 'from the camera bag', acquisitionDate: { local: '2026-12-04T16:00:00', offsetMinutes: 0, utc: '2026-12-04T16:00:00Z', source: 'header2' } },
      storedHashes: { md5: 'a'.repeat(32) }, computedHashes: { md5: 'b'.repeat(32), sha1: 'c'.repeat(40), sha256: 'd'.repeat(64) },
      integrity: 'mismatch' as const, mismatches: ['md5'], integrityDetail: null,
    };
    const text = renderEvidenceStatus({ ...status, diskImages: [image] });
    expect(text).toContain('card.E01  ewf, 34,816,000 bytes of media');
    expect(text).toContain('stored hashes: mismatch');
    expect(text).toContain('MISMATCH with the hash stored in the image: md5');
    expect(text).toContain('case CASE-15, evidence CARD-1, examiner Examiner Jones, acquired 2026-12-04T16:00:00');
    expect(text).toMatch(/volume 0 \(mbr 0x0c\) at 1,048,576, .*: fat32, 5 entries/);
    expect(text).toContain('volume 1 (mbr 0x83) at 34,603,008, 1.0 MiB: not read: ext: 0 blocks per group is impossible');
    expect(text).not.toContain('segments read as one image');
    expect(hasIntegrityMismatch({ ...status, diskImages: [image] })).toBe(true);
    const split = { ...image, segmentCount: 3, segments: ['card.E01', 'card.E02', 'card.E03'].map((n) => ({ name: `CASE-15/CARD-1/${n}`, size: 1_000_000, etag: null })) };
    expect(renderEvidenceStatus({ ...status, diskImages: [split] })).toContain('3 segments read as one image: card.E01, card.E02, card.E03');
    expect(hasIntegrityMismatch({ ...status, diskImages: [{ ...image, integrity: 'verified', mismatches: [] }] })).toBe(false);
  });

  it('regression: ewf-damaged-chunk-status-exit-0 — an image whose stored hashes could not be checked (a chunk failing its Adler-32) is not verified: shown so, and an integrity problem', () => {
    const image = {
      fileId: 'f2', caseId: status.caseId, evidenceId: status.evidenceId, path: 'damaged.E01', format: 'ewf', mediaBytes: 41_943_040, segmentCount: 1,
      segments: [{ name: 'CASE-15/CARD-1/damaged.E01', size: 20_000_000, etag: '"0x1"' }],
      volumes: [{ index: 0, offset: 0, size: 41_943_040, scheme: 'none' as const, type: '', label: '', fileSystem: 'fat32', problem: null, entries: 6 }],
      volumeProblems: [], ewfHeader: null,
      storedHashes: { md5: 'a'.repeat(32) }, computedHashes: null,
      integrity: 'failed' as const, mismatches: [], integrityDetail: 'the media could not be read whole to check the stored hashes: EWF chunk 631: Adler-32 mismatch',
    };
    // `exhibit status` exits 3 for it, as for a mismatch (it exited 0: the evidence looked sound).
    expect(hasIntegrityMismatch({ ...status, diskImages: [image] })).toBe(true);
    const text = renderEvidenceStatus({ ...status, diskImages: [image] }, { width: 400 });
    expect(text).toContain('stored hashes: failed');
    expect(text).toContain('NOT VERIFIED against the hash stored in the image:\n    the media could not be read whole to check the stored hashes: EWF chunk 631: Adler-32 mismatch');
  });

  it('split-raw-short-middle-segment-refused: a split raw set with a lost range (no stored hashes) is shown as media not readable whole, with the range, and is an integrity problem', () => {
    const image = {
      fileId: 'f3', caseId: status.caseId, evidenceId: status.evidenceId, path: 'disk.001', format: 'split-raw', mediaBytes: 6_291_456, segmentCount: 3,
      segments: ['disk.001', 'disk.002', 'disk.003'].map((n, i) => ({ name: `CASE-15/CARD-1/${n}`, size: [2_500_000, 100_000, 1_291_456][i]!, etag: null })),
      volumes: [{ index: 0, offset: 0, size: 6_291_456, scheme: 'none' as const, type: '', label: '', fileSystem: 'fat16', problem: null, entries: 4 }],
      volumeProblems: [], ewfHeader: null, storedHashes: null, computedHashes: null,
      integrity: 'failed' as const, mismatches: [], integrityDetail: 'the media is incomplete (segment 2 of disk.001 (disk.002) holds 100000 bytes … (media bytes 2600000 to 5000000) … [segment-truncated])',
    };
    expect(hasIntegrityMismatch({ ...status, diskImages: [image] })).toBe(true);
    const text = renderEvidenceStatus({ ...status, diskImages: [image] }, { width: 400 });
    expect(text).toContain('MEDIA NOT READABLE WHOLE:\n    the media is incomplete (segment 2 of disk.001');
    expect(text).not.toContain('NOT VERIFIED against the hash stored in the image');
  });

  it('incomplete-ewf-without-stored-hash-says-not-verified-against-stored-hash: an EWF image that stores no MD5 or SHA-1, its media incomplete, is shown as media not readable whole', () => {
    const image = {
      fileId: 'f5', caseId: status.caseId, evidenceId: status.evidenceId, path: 'card.E01', format: 'ewf', mediaBytes: 6_291_456, segmentCount: 2,
      segments: ['card.E01', 'card.E02'].map((n) => ({ name: `CASE-15/CARD-1/${n}`, size: 3_000_000, etag: null })),
      volumes: [], volumeProblems: [], ewfHeader: null, storedHashes: {}, computedHashes: null,
      integrity: 'failed' as const, mismatches: [], integrityDetail: 'the media is incomplete (EWF segment 2 is shorter than its sections say [segment-truncated])',
    };
    const text = renderEvidenceStatus({ ...status, diskImages: [image] }, { width: 400 });
    // Before: "NOT VERIFIED against the hash stored in the image:", a hash the image does not store.
    expect(text).toContain('MEDIA NOT READABLE WHOLE:\n    the media is incomplete (EWF segment 2');
    expect(text).not.toContain('NOT VERIFIED against the hash stored in the image');
    expect(renderEvidenceStatus({ ...status, diskImages: [{ ...image, storedHashes: { md5: 'c'.repeat(32) } }] }, { width: 400 })).toContain('NOT VERIFIED against the hash stored in the image:');
  });

  it('read-past-entry-note-shown-as-volume-problem: a volume note in the record is rendered as a note, a problem as before, and a note alone is no integrity problem', () => {
    const noteText = 'volume 0: its fat file system declares 20971520 bytes, its partition entry 12582912: read on 8388608 bytes past the entry (disk bytes 13631488 to 22020096), as TSK reads it; no other partition entry covers those bytes';
    const image = {
      fileId: 'f4', caseId: status.caseId, evidenceId: status.evidenceId, path: 'disk.img', format: 'raw', mediaBytes: 22_020_096, segmentCount: 1,
      segments: [{ name: 'CASE-15/CARD-1/disk.img', size: 22_020_096, etag: null }],
      volumes: [{ index: 0, offset: 1_048_576, size: 12_582_912, scheme: 'mbr' as const, type: '0x06', label: '', fileSystem: 'fat16', problem: null, entries: 4 }],
      volumeProblems: [`mbr 0: note read-past-entry: ${noteText}`],
      ewfHeader: null, storedHashes: null, computedHashes: null, integrity: 'no-reference' as const, mismatches: [], integrityDetail: null,
    };
    const text = renderEvidenceStatus({ ...status, diskImages: [image] }, { width: 400 });
    // Before: "    mbr 0: volume 0: its fat file system declares …", a line like any volume problem's.
    expect(text).toContain(`    volume note (mbr 0): read-past-entry: ${noteText}`);
    expect(text).not.toContain('mbr 0: note read-past-entry');
    expect(hasIntegrityMismatch({ ...status, diskImages: [image] })).toBe(false);
    // A problem (no note code in its text) is shown as it always was.
    const problem = 'ebr 4: the extended partition chain loops back to sector 2048';
    const both = renderEvidenceStatus({ ...status, diskImages: [{ ...image, volumeProblems: [problem, image.volumeProblems[0]!] }] }, { width: 400 });
    expect(both).toContain(`    ${problem}\n    volume note (mbr 0): read-past-entry: `);
    // A problem recorded with its code (volumeProblemText) is said with it, as `exhibit image ls` says it.
    const coded = volumeProblemText('mbr 2', 'corrupt-file', 'partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk');
    const withCode = renderEvidenceStatus({ ...status, diskImages: [{ ...image, volumeProblems: [coded] }] }, { width: 400 });
    expect(withCode).toContain('    volume problem (mbr 2): corrupt-file: partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk');
  });

  it('an image whose listing the unpack-time budget stopped shows both the stop (with its members) and the stored-hash verdict', () => {
    // docs/disk-images.md, "The EWF stored-hash check across attempts": the budget spent stops the listing, never the verdict.
    const image = {
      fileId: 'fimg', caseId: status.caseId, evidenceId: status.evidenceId, path: 'big.E01', format: 'ewf', mediaBytes: 8_589_934_592, segmentCount: 1,
      segments: [{ name: 'CASE-15/CARD-1/big.E01', size: 4_000_000_000, etag: '"0x1"' }],
      volumes: [{ index: 0, offset: 1_048_576, size: 8_588_886_016, scheme: 'mbr' as const, type: '0x0c', label: '', fileSystem: 'fat32', problem: null, entries: 3 }],
      volumeProblems: [], ewfHeader: null,
      storedHashes: { md5: 'a'.repeat(32) }, computedHashes: { md5: 'a'.repeat(32), sha1: 'c'.repeat(40), sha256: 'd'.repeat(64) },
      integrity: 'verified' as const, mismatches: [], integrityDetail: null,
    };
    const stop = {
      fileId: 'fimg', path: 'big.E01', stage: 'unpack', code: 'limit-exceeded',
      detail: "the evidence item's unpack-time budget (1800000 ms, not counting up to 250 ms of each entry's own work) is used up; not unpacked further (3 members recorded before the stop; any after it not extracted)",
      archive: { reason: 'budget-exceeded', membersRecorded: 3, membersDeclared: null },
    };
    const text = renderEvidenceStatus({ ...status, diskImages: [image], failures: [stop] as typeof status.failures }, { width: 400 });
    expect(text).toContain('big.E01  ewf, 8,589,934,592 bytes of media');
    expect(text).toContain('stored hashes: verified');
    expect(text).toContain('unpack stopped (budget-exceeded), 3 members recorded');
    expect(hasIntegrityMismatch({ ...status, diskImages: [image] })).toBe(false);
  });

  it('says when evidence was overwritten or deleted after receipt, and counts it as an integrity problem', () => {
    const at = '2024-05-02T09:00:00.000Z';
    const overwritten = { ...status, uploads: status.uploads.map((u) => ({ ...u, changedAfterReceipt: { etag: '"0x9"', size: 1234, firstSeenAt: at, lastSeenAt: at } })) };
    const gone = { ...status, uploads: status.uploads.map((u) => ({ ...u, changedAfterReceipt: { etag: '', size: null, firstSeenAt: at, lastSeenAt: at } })) };
    expect(hasIntegrityMismatch(overwritten)).toBe(true);
    expect(renderEvidenceStatus(overwritten)).toContain(`EVIDENCE CHANGED: the blob was overwritten after receipt (now 1,234 bytes, noticed ${at})`);
    expect(renderEvidenceStatus(gone)).toContain(`EVIDENCE GONE: the blob was deleted from storage after receipt (noticed ${at})`);
    expect(renderEvidenceStatus(status)).not.toContain('EVIDENCE');
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
    expect(lines[0]).toMatch(/^File id\s+Path\s+Type\s+Size\s+Taken at \(as recorded\)\s+Taken from\s+Make\/model\s+GPS\s+SHA-256\s+Flags$/);
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

  it("shows the findings about a file's bytes in Flags (preview-differs, as status shows it), each once", () => {
    const photo = searchResult.items[0]!;
    const edited = {
      ...searchResult,
      items: [{
        ...photo,
        file: { ...photo.file, flags: ['exif-preview-thumbnail' as const] },
        content: { ...photo.content!, findings: [{ flag: 'preview-differs' as const, detail: 'the embedded EXIF preview (160x120) differs from the image' }] },
      }],
    };
    const row = renderSearchResult(edited, { width: 400 }).split('\n')[1]!;
    expect(row).toMatch(/exif-preview-thumbnail preview-differs$/);
    const unedited = renderSearchResult({ ...searchResult, items: [photo] }, { width: 400 }).split('\n')[1]!;
    expect(unedited).not.toContain('preview-differs');
  });

  describe('fits the width it is given', () => {
    const whatsApp = 'phone-extraction.zip!/Android/media/com.whatsapp/WhatsApp/Media/WhatsApp Images/IMG-20250601-WA0001.jpg';
    const wide = { ...searchResult, items: searchResult.items.map((h, i) => (i === 0 ? { ...h, file: { ...h.file, path: whatsApp } } : h)) };
    const tableLines = (text: string) => text.split('\n\n')[0]!.split('\n');

    it.each([60, 80, 100, 120, 160, 200, 250])('at %i columns no line is wider, file names and ids stay whole', (width) => {
      const text = renderSearchResult(wide, { width });
      for (const line of text.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(width);
      const [header, photo, notes] = tableLines(text);
      expect(header).toMatch(/^File id\s+Path/);
      expect(photo).toContain('fphoto00000000000000000000000001');
      expect(photo).toContain('IMG-20250601-WA0001.jpg');
      expect(notes).toContain('fnotes000000000000000000000000000');
      expect(notes).toContain('notes.txt');
      // Flags are left out whole, never cut.
      if (header!.includes('Flags')) expect(notes).toMatch(/ext-mismatch$/);
      else expect(text).toMatch(/left out to fit \d+ columns: [\s\S]*Flags/);
    });

    it('still fits a terminal too narrow for the file id and a path: the path is cut, then the line', () => {
      for (const width of [20, 40, 50]) {
        const text = renderSearchResult(wide, { width });
        for (const line of text.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(width);
      }
      expect(tableLines(renderSearchResult(wide, { width: 50 }))[1]).toMatch(/^fphoto0+1 {3}…\/IMG-20…01\.jpg$/);
    });

    it('leaves out the lesser columns first and says which', () => {
      const at80 = renderSearchResult(wide, { width: 80 });
      expect(tableLines(at80)[0]).toMatch(/^File id\s+Path\s+Flags$/);
      expect(at80).toContain('left out to fit 80 columns: GPS, Taken from, Make/model, SHA-256, Type, Taken at\n(as recorded), Size (--width N for more, --json for everything)');
      expect(tableLines(renderSearchResult(wide, { width: 100 }))[0]).toMatch(/^File id\s+Path\s+Size\s+Flags$/);
      const at120 = renderSearchResult(wide, { width: 120 });
      expect(tableLines(at120)[0]).toMatch(/^File id\s+Path\s+Size\s+Taken at \(as recorded\)\s+Flags$/);
      expect(tableLines(at120)[1]).toContain('2023-08-14T17:20:05 -03:00');
      const at160 = renderSearchResult(wide, { width: 160 });
      expect(tableLines(at160)[0]).toMatch(/^File id\s+Path\s+Type\s+Size\s+Taken at \(as recorded\)\s+Make\/model\s+SHA-256\s+Flags$/);
      expect(at160).toContain('left out to fit 160 columns: GPS, Taken from (');
      const at250 = renderSearchResult(wide, { width: 250 });
      expect(tableLines(at250)[0]).toMatch(/^File id\s+Path\s+Type\s+Size\s+Taken at \(as recorded\)\s+Taken from\s+Make\/model\s+GPS\s+SHA-256\s+Flags$/);
      expect(at250).not.toContain('left out');
    });

    it('cuts the path in its middle, keeping its start, whole parent folders that fit, and the file name', () => {
      const photo = (width: number) => tableLines(renderSearchResult(wide, { width }))[1]!;
      expect(photo(275)).toContain('phone-extraction.zip!/Android/media…/WhatsApp/Media/WhatsApp Images/IMG-20250601-WA0001.jpg');
      expect(photo(120)).toMatch(/ phone-…\/IMG-20250601-WA0001\.jpg /);
      expect(renderSearchResult(wide, { width: Number.POSITIVE_INFINITY })).toContain(whatsApp);
      expect(renderSearchResult(wide)).toContain(whatsApp);
    });

    it('measures wide characters by the columns they take', () => {
      const path = '证据.zip!/微信/图片/二〇二五年六月/旅行照片.jpg';
      const cjk = { ...searchResult, items: [{ ...searchResult.items[0]!, file: { ...searchResult.items[0]!.file, path } }] };
      const text = renderSearchResult(cjk, { width: 70 });
      for (const line of text.split('\n')) expect(displayWidth(line), line).toBeLessThanOrEqual(70);
      const row = tableLines(text)[1]!;
      expect(row).toContain('…/旅行照片.jpg');
      expect(displayWidth(row)).toBeGreaterThan(row.length);
    });
  });

  it('tells how to get the next page', () => {
    expect(text).toContain('files 1-2 of 3 (next page: --cursor eyJ2IjoxfQ)');
    expect(renderSearchResult({ total: 0, totalIsLowerBound: false, limit: 50, offset: 0, nextCursor: null, items: [] })).toBe('no files match (total 0)\n');
  });

  it('shows a counted-up-to total as "at least" (10000+), and a cursor page without a position it does not know', () => {
    const deep = renderSearchResult({ ...searchResult, total: 10_000, totalIsLowerBound: true, nextCursor: null }, { byCursor: true });
    expect(deep).toContain('2 files of 10000+\n');
    expect(deep).not.toContain('next page');
  });
});

describe('file detail rendering', () => {
  const text = renderFileDetail(fileDetail);

  it('shows the hash sets the content is in: kind, set, version, category and the digest that matched', () => {
    const known = renderFileDetail({
      ...fileDetail,
      knownFileMatches: [
        { sha256: SHA.photo, setId: 4, name: 'CAID', version: '2026-11', kind: 'known-bad', category: 1, categoryName: 'Category A', matchedOn: 'md5' },
        { sha256: SHA.photo, setId: 7, name: 'Local list', version: null, kind: 'notable', category: null, categoryName: null, matchedOn: 'sha256' },
      ],
    });
    expect(known).toMatch(/\nKnown files\n {2}known-bad {9}"CAID" version 2026-11, category 1 \(Category A\); matched on MD5\n {2}notable {11}"Local list"; matched on SHA-256\n/);
    expect(known.indexOf('Known files')).toBeLessThan(known.indexOf('Provenance'));
    // Nothing in any set (or an older server without the field): no section.
    expect(text).not.toContain('Known files');
    expect(renderFileDetail({ ...fileDetail, knownFileMatches: [] })).toBe(text);
  });

  it('shows a PDQ list match with its distance, the frame (and time) of a video, and the listed hash and label', () => {
    const listed = 'ab'.repeat(32);
    const known = renderFileDetail({
      ...fileDetail,
      knownFileMatches: [
        { sha256: SHA.photo, setId: 9, name: 'PDQ list', version: '3', kind: 'notable', category: null, categoryName: null, matchedOn: 'pdq',
          pdq: { distance: 12, maxDistance: 31, frame: 2, timeMs: 7500, listedHash: listed, label: 'scene\u001b[2J 12' } },
      ],
    });
    expect(known).toContain(`"PDQ list" version 3; matched on PDQ, distance 12/256 (set limit 31) on video frame 2 at 7.500 s; listed ${listed} "scene\\u001b[2J 12"`);
  });
  it('regression: video-frame-without-time-called-the-picture — a video content\'s frame 0 with no time is named a video frame', () => {
    const listed = 'cd'.repeat(32);
    const pdq = { distance: 12, maxDistance: 31, frame: 0, timeMs: null, listedHash: listed, label: null };
    const match = { sha256: SHA.photo, setId: 9, name: 'PDQ list', version: '3', kind: 'notable' as const, category: null, categoryName: null, matchedOn: 'pdq' as const, pdq };
    // By the content's kind (an older server sends no pdq.video): a video, not "the picture".
    const video = renderFileDetail({ ...fileDetail, content: { ...fileDetail.content!, kind: 'video' }, knownFileMatches: [match] });
    expect(video).toContain('on video frame 0, time unknown;');
    const picture = renderFileDetail({ ...fileDetail, knownFileMatches: [match] });
    expect(picture).toContain('on the picture;');
  });
  it('says when the embedded EXIF preview is kept, and how to save it', () => {
    const withPreview = renderFileDetail({
      ...fileDetail,
      content: { ...fileDetail.content!, embeddedPreview: { container: 'derived', name: `previews/${SHA.photo.slice(0, 2)}/${SHA.photo}.exif-ifd1.jpg` } },
    });
    expect(withPreview).toMatch(/\n {2}embedded preview +kept \(`npm run exhibit -- show \S+ fphoto0+1 --preview out\.jpg` saves it\)\n/);
    expect(text).not.toContain('embedded preview');
  });
  /** Column where the values start: after the longest label and two spaces. */
  const valueColumn = (t: string) => t.split('\n').find((l) => l.startsWith('  path'))!.indexOf('phone-');

  it('shows the occurrence, content hashes, metadata as recorded and the provenance chain to the upload', () => {
    expect(text).toMatch(/^File fphoto0+1/);
    expect(text).toContain('phone-extraction.zip!/DCIM/Camera/IMG_0001.jpg');
    expect(text).toContain(`  sha256            ${SHA.photo}`);
    expect(text).toContain('  taken at          2023-08-14T17:20:05 -03:00 [exif:DateTimeOriginal+OffsetTimeOriginal]');
    expect(text).toContain('  taken at (UTC)    2023-08-14T20:20:05Z');
    expect(text).toContain('  device            samsung SM-G991B');
    expect(text).toContain('  GPS               -22.95192,-43.21049 710 m');
    expect(text).toMatch(/ {2}this file {9}phone-extraction\.zip!\/DCIM\/Camera\/IMG_0001\.jpg\n {20}entry #4, sha256 a3c1/);
    expect(text).toMatch(/ {2}inside {12}phone-extraction\.zip\n {20}sha256 5f0c/);
    expect(text).toContain('  uploaded as       C1/EX01/phone-extraction.zip\n                    4,823,117 bytes');
    expect(text).toContain(`  acquisition       examiner Zoë Ørsted\n                    exhibit ZO/1\n                    sha256 ${SHA.zip}`);
  });

  it('keeps every label apart from its value, all values in one column', () => {
    // The longest label ("archive modified") used to run into its value.
    expect(text).toContain('  archive modified  2023-08-14T16:20:05 (no UTC offset recorded) [zip:dos-time]');
    const column = valueColumn(text);
    expect(column).toBe(20);
    for (const line of text.split('\n').filter((l) => /^ {2}\S/.test(l))) {
      expect(line.slice(column - 2, column), line).toBe('  ');
      expect(line[column], line).not.toBe(' ');
    }
  });

  it('names the EXIF orientation, with the recorded number', () => {
    expect(text).toContain('  orientation       Rotate 90 CW (6)');
    expect(text).not.toMatch(/orientation\s+6$/m);
    expect(formatOrientation(1)).toBe('Horizontal (normal) (1)');
    expect(formatOrientation(8)).toBe('Rotate 270 CW (8)');
    expect(formatOrientation(9)).toBe('unknown value (9)');
  });

  it('shows tool versions as versions, one stage a line, even from records that kept the -version banner', () => {
    const banner = {
      ...fileDetail,
      content: {
        ...fileDetail.content!,
        tools: {
          ...fileDetail.content!.tools,
          thumbnail: [
            { name: 'sharp', version: '0.34.3' },
            { name: 'ffmpeg', version: 'ffmpeg version 6.1.1-3ubuntu5 Copyright (c) 2000-2023 the FFmpeg developers' },
          ],
        },
      },
    };
    const shown = renderFileDetail(banner);
    expect(shown).toContain('  tools             identify: file-type 21.0.0\n                    metadata: exifr 7.1.3\n                    thumbnail: sharp 0.34.3, ffmpeg 6.1.1-3ubuntu5\n');
    expect(shown).not.toContain('Copyright');
    expect(formatToolVersion({ name: 'ffprobe', version: 'ffprobe version n7.0 Copyright (c) 2007-2024' })).toBe('ffprobe n7.0');
    expect(formatToolVersion({ name: 'exifr', version: '7.1.3' })).toBe('exifr 7.1.3');
  });

  it('shows a failure once, and the content failure only when it differs', () => {
    const failure = { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'JPEG data is corrupt' };
    const failed = {
      ...fileDetail,
      file: { ...fileDetail.file, stage: 'failed' as const, failure },
      content: { ...fileDetail.content!, thumbnailStatus: 'failed' as const, thumbnail: null, thumbnailSource: null, failure },
    };
    const shown = renderFileDetail(failed);
    expect(shown.match(/decode-failed/g)).toHaveLength(1);
    expect(shown).toContain('  failure           thumbnail: decode-failed: JPEG data is corrupt');
    expect(shown).toContain('  thumbnail         failed');
    const other = renderFileDetail({ ...failed, content: { ...failed.content, failure: { stage: 'metadata' as const, code: 'corrupt-file' as const, detail: 'bad IFD' } } });
    expect(other).toContain('  content failure   metadata: corrupt-file: bad IFD');
  });

  it('shows where each time came from, the declared size and the metadata findings', () => {
    const m = fileDetail.content!.metadata!;
    const flagged = renderFileDetail({
      ...fileDetail,
      content: {
        ...fileDetail.content!,
        metadata: {
          ...m,
          gps: undefined,
          gpsRecorded: { lat: 0, lon: 0, flag: 'gps-null-island' },
          captureTimes: [m.takenAt!, { local: '2023-08-14T18:20:05', offsetMinutes: null, utc: null, source: 'XMP:exif:DateTimeOriginal' }],
          modifiedAt: { local: '2023-09-01T10:00:00', offsetMinutes: null, utc: null, source: 'EXIF:ModifyDate' },
          declaredWidth: 4000,
          declaredHeight: 3000,
          findings: [{ flag: 'size-mismatch', detail: 'EXIF declares 4000x3000; the image is 2000x1500' }],
        },
      },
    });
    // Labels sit in one column as wide as the longest label ('archive modified').
    const line = (label: string, value: string) => new RegExp(`^  ${label.replace(/[()]/g, '\\$&')} +${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm');
    expect(flagged).toMatch(line('also recorded', '2023-08-14T18:20:05 (no UTC offset recorded) [XMP:exif:DateTimeOriginal]'));
    expect(flagged).toMatch(line('modified at', '2023-09-01T10:00:00 (no UTC offset recorded) [EXIF:ModifyDate]'));
    expect(flagged).toMatch(line('GPS (recorded)', '0.00000,0.00000 gps-null-island: not a location'));
    expect(flagged).not.toMatch(/^  GPS {13}/m);
    expect(flagged).toMatch(line('declared size', '4000 x 3000 (EXIF)'));
    expect(flagged).toMatch(line('finding', 'size-mismatch: EXIF declares 4000x3000; the image is 2000x1500'));
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

  it('cuts a path to a width keeping the file name, and only a name too long on its own is cut in its middle', () => {
    const p = 'phone-extraction.zip!/DCIM/Camera/WhatsApp Images/IMG-20250601-WA0001.jpg';
    expect(ellipsizePath(p, 100)).toBe(p);
    expect(ellipsizePath(p, 60)).toBe('phone-extraction.zi…/WhatsApp Images/IMG-20250601-WA0001.jpg');
    expect(ellipsizePath(p, 40)).toBe('phone-extractio…/IMG-20250601-WA0001.jpg');
    expect(ellipsizePath(p, 25)).toBe('…/IMG-20250601-WA0001.jpg');
    // Too narrow for the whole name: "…/" still says folders were left out, the extension stays.
    expect(ellipsizePath(p, 23)).toBe('…/IMG-202506…WA0001.jpg');
    expect(ellipsizePath('IMG-20250601-WA0001.jpg', 12)).toBe('IMG-2…01.jpg');
    expect(ellipsizePath('dir/sub/', 5)).toBe('…sub/');
    for (let w = 1; w <= p.length; w++) {
      const cut = ellipsizePath(p, w);
      expect(displayWidth(cut)).toBeLessThanOrEqual(w);
      if (w < p.length) expect(cut).toContain('…');
    }
    expect(displayWidth(ellipsizePath('写真/二〇二五年/旅行の写真ファイル.jpg', 20))).toBeLessThanOrEqual(20);
    // Never splits a character made of two UTF-16 units.
    expect(ellipsizePath('a/😀😀😀😀😀😀😀😀.jpg', 12)).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('narrows columns in proportion to what they can spare, leaves out optional ones by priority, and never exceeds the width', () => {
    const rows = [{ a: 'x'.repeat(40), b: 'y'.repeat(20), c: 'zz' }];
    const cols = [
      { header: 'A', value: (r: (typeof rows)[0]) => r.a, minWidth: 10, priority: 3 },
      { header: 'B', value: (r: (typeof rows)[0]) => r.b, minWidth: 10, priority: 2 },
      { header: 'C', value: (r: (typeof rows)[0]) => r.c, priority: 1, optional: true },
    ];
    // 40 + 20 + 2 + gaps 4 = 66; to 56: A (30 to spare) gives 7 or so, B (10) gives the rest.
    const at56 = layoutTable(rows, cols, { width: 56 });
    expect(at56.omitted).toEqual([]);
    const [, row] = at56.text.split('\n');
    expect(row).toBe(`${'x'.repeat(32)}…  ${'y'.repeat(16)}…  zz`);
    // Minimums 10 + 10 + 2 + 4 = 26 do not fit 24: C goes.
    const at24 = layoutTable(rows, cols, { width: 24 });
    expect(at24.omitted).toEqual(['C']);
    expect(at24.text.split('\n')[1]).toBe(`${'x'.repeat(11)}…  ${'y'.repeat(9)}…`);
    // Nothing left to leave out: the line itself is cut.
    for (const line of renderTable(rows, cols, { width: 15 }).split('\n')) expect(displayWidth(line)).toBeLessThanOrEqual(15);
  });

  it('aligns table columns and truncates long cells', () => {
    const t = renderTable([{ a: 'x', b: '1' }, { a: 'longer', b: '22' }], [
      { header: 'A', value: (r) => r.a, maxWidth: 4 },
      { header: 'B', value: (r) => r.b, align: 'right' },
    ]);
    expect(t).toBe('A      B\nx      1\nlon…  22');
  });
});
