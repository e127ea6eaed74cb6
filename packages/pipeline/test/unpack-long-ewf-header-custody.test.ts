import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES, ewfHeaderCanonicalJson, LIMITS } from '@exhibit/core';
import { CUSTODY_LIMITS, type CustodyLog } from '@exhibit/custody';
import { missingTools, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { addArchive, createHarness, sha256, unpackStage, useRealCustody, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression long-ewf-notes-custody-refused: the `image-hash-*` custody entry of an E01 carried
 * its acquisition header whole, and ewfacquire writes a notes field of any length (recorded twice:
 * as `notes` and in the raw `values`). 100,000 characters of notes, or 20,000 CJK characters,
 * made the entry over the log's 64 KiB: the writer refused it (`limit-exceeded`), the unpack
 * failed, retried and dead-lettered, and the image's custody was lost. Through the unpack stage
 * with the real custody writer (Azurite append blobs, PGlite): past
 * LIMITS.maxCustodyEwfHeaderBytes the entry records `headerExcerpt` (fields cut, `truncated` per
 * field) and `headerSha256` of the whole header, which the index keeps (disk_images.ewf_header).
 */

const missing = missingTools();

describe.skipIf(missing.length > 0)('custody of an E01 with a long acquisition header (regression long-ewf-notes-custody-refused)', () => {
  let h: Harness;
  let custody: CustodyLog;
  let dir = '';
  const p = (name: string) => path.join(dir, name);

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-long-ewf-header-'));
    // The real writer, with its 64 KiB limit, in place of the recording one.
    custody = await useRealCustody(h, inject('storageConnectionString'), p('key'));
    run('mkfs.fat', ['-C', '-F', '12', '-n', 'NOTES', p('card.img'), '1400']);
    writeFileSync(p('payload'), pseudoRandom(30_000, 41));
    run('mcopy', ['-i', p('card.img'), p('payload'), '::/IMG_0001.JPG']);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function acquireAndUnpack(stem: string, notes: string) {
    run('ewfacquire', ['-u', '-t', p(stem), '-c', 'none', '-C', 'CASE-7', '-E', 'CARD-1', '-e', 'Examiner Jones', '-D', 'Camera card', '-N', notes, '-d', 'sha1', p('card.img')]);
    const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
    const first = await addArchive(h, `${stem}.E01`, readFileSync(p(`${stem}.E01`)), { mime: DISK_IMAGE_MIMES.ewf, evidenceId });
    const outcome = await unpackStage(h.deps, first, h.ctx);
    const entries = await custody.entries({ caseId: 'case-1', fileId: first.fileId });
    return { outcome, entries, image: await h.index.getDiskImage(first.fileId), members: await h.index.listChildren(first.fileId) };
  }

  const cases = [
    { name: '100,000 characters of notes', stem: 'ascii', chars: 100_000, notes: `Seized at the scene. ${'n'.repeat(100_000 - 21)}` },
    { name: '20,000 CJK characters of notes (header2, UTF-16)', stem: 'cjk', chars: 20_000, notes: '押収した記録媒体の状態について'.repeat(1_334).slice(0, 20_000) },
  ];

  for (const c of cases) {
    it(`${c.name}: unpacked and verified, the entry records each field cut and the SHA-256 of the header the index keeps whole`, async () => {
      expect([...c.notes]).toHaveLength(c.chars);
      const { outcome, entries, image, members } = await acquireAndUnpack(c.stem, c.notes);
      // Before: failed, limit-exceeded, the custody entry larger than 65536 bytes.
      expect(outcome, JSON.stringify(outcome).slice(0, 400)).toMatchObject({ status: 'done' });
      expect(members.map((m) => m.path.split('!/')[1])).toContain('IMG_0001.JPG');
      // The index keeps every field whole.
      expect(image).toMatchObject({ format: 'ewf', integrity: 'verified', ewfHeader: { caseNumber: 'CASE-7', examiner: 'Examiner Jones', notes: c.notes } });
      expect((image!.ewfHeader!['values'] as Record<string, string>)['t']).toBe(c.notes);
      const verified = entries.find((e) => e.action === 'image-hash-verified');
      expect(verified).toBeDefined();
      const details = verified!.details;
      expect(details['header']).toBeUndefined();
      const cut = [...c.notes].slice(0, LIMITS.maxCustodyEwfHeaderFieldChars).join('');
      expect(details['headerExcerpt']).toMatchObject({
        caseNumber: { value: 'CASE-7', truncated: false },
        evidenceNumber: { value: 'CARD-1', truncated: false },
        examiner: { value: 'Examiner Jones', truncated: false },
        notes: { value: cut, truncated: true, chars: c.chars },
        values: { t: { value: cut, truncated: true, chars: c.chars } },
        valuesOmitted: 0,
      });
      // Recomputable from the index's copy.
      expect(details['headerSha256']).toBe(sha256(Buffer.from(ewfHeaderCanonicalJson(image!.ewfHeader!), 'utf8')));
      expect(Buffer.byteLength(JSON.stringify(details['headerExcerpt']))).toBeLessThanOrEqual(LIMITS.maxCustodyEwfHeaderBytes);
      expect(Buffer.byteLength(JSON.stringify(verified))).toBeLessThan(CUSTODY_LIMITS.maxEntryBytes);
      expect(entries.find((e) => e.action === 'unpacked')).toBeDefined();
    }, 180_000);
  }

  it('short notes keep the header whole, as before', async () => {
    const { outcome, entries, image } = await acquireAndUnpack('short', 'SD card from the camera bag');
    expect(outcome).toMatchObject({ status: 'done' });
    const verified = entries.find((e) => e.action === 'image-hash-verified');
    expect(verified?.details['header']).toEqual(image!.ewfHeader);
    expect(verified?.details['headerExcerpt']).toBeUndefined();
    expect(verified?.details['headerSha256']).toBeUndefined();
  }, 180_000);
});
