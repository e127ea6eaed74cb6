import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskImageRecord, IndexStore } from '@exhibit/core';
import { createPostgresIndex, openSqlClient } from '../src/index.js';
import { cleanText, toJson } from '../src/index-store.rows.js';
import { TOOLS, hashesOf, member, newUpload, photo, rootFile } from './fixtures.js';
import { allTargets } from './targets.js';

/**
 * The index's safety net for text decoded from UTF-16 in evidence (NTFS names,
 * EWF header2, labels) that reaches it with a lone surrogate unescaped: as a
 * text parameter the driver encoded it as U+FFFD (a wrong value; two names
 * became one), and in JSON jsonb refused the whole write ("Unicode low
 * surrogate must follow a high surrogate"). Now both are stored as the
 * visible escape `\u{d800}`, on PGlite and on the server.
 */

describe('cleanText / toJson with lone surrogates', () => {
  it('escapes a lone surrogate visibly, keeps pairs, and does not escape twice', () => {
    expect(cleanText('a\ud800b')).toBe('a\\u{d800}b');
    expect(cleanText('a\0\udc00')).toBe('a\u2400\\u{dc00}');
    expect(cleanText('\ud83d\ude00')).toBe('\ud83d\ude00');
    expect(cleanText(cleanText('a\ud800b'))).toBe('a\\u{d800}b');
    const json = toJson({ ['k\ud800']: ['v\udc00'] });
    expect(json).toBe(JSON.stringify({ 'k\\u{d800}': ['v\\u{dc00}'] }));
    // As a bound string the JSON text is cleaned again: unchanged.
    expect(cleanText(json)).toBe(json);
  });
});

let caseSeq = 0;
const freshCase = () => `ls-case-${++caseSeq}`;

describe.each(allTargets())('index writes with lone surrogates on $name', (target) => {
  let index: IndexStore;
  beforeAll(async () => {
    index = createPostgresIndex(await openSqlClient(await target.create()));
    await index.migrate();
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('files: two names differing only in a lone surrogate stay two visible names, never U+FFFD', async () => {
    const c = freshCase();
    const root = rootFile(newUpload(c, 'ev1', 'disk.E01'));
    const high = member(root, 0, 'dir/x\ud800.txt', { archiveTimes: { modified: { local: 'l\udc00', offsetMinutes: null, utc: null, source: 'ntfs' } } });
    const low = member(root, 1, 'dir/x\udc00.txt');
    expect(await index.insertFiles([root, high, low])).toBe(3);
    const [a, b] = [await index.getFile(high.fileId), await index.getFile(low.fileId)];
    expect(a?.recordedName).toBe('dir/x\\u{d800}.txt');
    expect(b?.recordedName).toBe('dir/x\\u{dc00}.txt');
    expect(a?.name).toBe('x\\u{d800}.txt');
    expect(a?.archiveTimes.modified?.local).toBe('l\\u{dc00}');
  });

  it('disk_images: an EWF header and a volume label with a lone surrogate are recorded, not refused', async () => {
    const c = freshCase();
    const root = rootFile(newUpload(c, 'ev1', 'card.E01'));
    await index.insertFiles([root]);
    const record: DiskImageRecord = {
      fileId: root.fileId, caseId: c, evidenceId: 'ev1', format: 'ewf', mediaBytes: 512, segmentCount: 1,
      segments: [{ name: `${c}/ev1/card.E01`, size: 1024, etag: null }],
      volumes: [{ index: 0, offset: 0, size: 512, scheme: 'gpt', type: 'basic', label: 'DATA\udbff', fileSystem: null, problem: null, entries: 0 }],
      volumeProblems: [],
      ewfHeader: { notes: 'NOTE-\ud800Y', values: { t: 'NOTE-\ud800Y', ['k\udc00']: 'v' } },
      storedHashes: null, computedHashes: null, integrity: 'no-reference', mismatches: [], integrityDetail: null,
    };
    await index.recordDiskImage(record);
    const got = await index.getDiskImage(root.fileId);
    expect(got?.ewfHeader).toEqual({ notes: 'NOTE-\\u{d800}Y', values: { t: 'NOTE-\\u{d800}Y', 'k\\u{dc00}': 'v' } });
    expect(got?.volumes[0]?.label).toBe('DATA\\u{dbff}');
  });

  it('contents: metadata with a lone surrogate is recorded, not refused', async () => {
    const c = freshCase();
    const sha = hashesOf(`${c}/content`);
    await index.ensureContent({ ...sha, size: 3, source: { container: 'evidence', name: `${c}/x` } });
    await index.setMetadata(sha.sha256, { status: 'done', metadata: photo({ make: 'Can\ud800on', raw: { ['K\udc00']: 'v\ud800' } }), tools: TOOLS });
    const got = await index.getContent(sha.sha256);
    expect(got?.metadataStatus).toBe('done');
    expect(got?.metadata?.make).toBe('Can\\u{d800}on');
    expect(got?.metadata?.raw).toEqual({ 'K\\u{dc00}': 'v\\u{d800}' });
  });
});
