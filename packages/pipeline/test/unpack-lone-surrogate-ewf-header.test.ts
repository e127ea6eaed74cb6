import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { constants, deflateRawSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES } from '@exhibit/core';
import { missingTools, pseudoRandom, run } from '../src/disk/test-support/disk-image.builder.js';
import { allTargets } from '../../index/test/targets.js';
import { addArchive, createHarness, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression lone-surrogate-ewf-header-refused: an E01's header2 section is UTF-16 written by the
 * acquiring tool, decoded with `toString('utf16le')`, which keeps an unpaired surrogate. The header
 * went to disk_images.ewf_header as JSON with `\ud800`, which jsonb refuses ("Unicode low surrogate
 * must follow a high surrogate"): the image's index record was lost and the unpack failed. Now the
 * reader escapes it visibly (`\u{d800}`), and the index would as a safety net.
 *
 * The image: ewfacquire with notes `NOTE-XY`, then both header2 sections re-deflated with the `X`
 * code unit replaced by 0xD800 (and the description's random tail by dashes, to make room),
 * re-deflated to the original compressed length (a valid zlib stream padded with empty stored
 * blocks), so no section offset moves and the descriptors (and their Adler-32) stay valid.
 */

const missing = missingTools();

/** Random letters in the description, replaced by dashes in the patched header2 (see below). */
const DESCRIPTION_TAIL = 'qzvjxkwpbmfhgtlrcnsdyaoeiu';

/** Adler-32 of `data`, as a zlib stream's trailer carries it (big-endian). */
function adler32(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * A valid zlib stream of `data` exactly `length` bytes long, so the patched section keeps its size
 * and no section offset moves. Searching zlib settings alone for an exact length fails now and then
 * (the header also holds the acquisition time, so its compressed length varies run to run): the
 * deflate body is therefore ended with a sync flush and padded with empty stored blocks (5 bytes
 * each), then closed by an empty final block (2 bytes fixed-Huffman, or 5 stored), which gives every
 * residue modulo 5 across a few settings.
 */
function deflateToLength(data: Buffer, length: number): Buffer | null {
  const header = Buffer.from([0x78, 0x9c]);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(adler32(data));
  const finals = [Buffer.from([0x03, 0x00]), Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff])];
  const emptyStored = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
  for (let level = 9; level >= 1; level--)
    for (let memLevel = 9; memLevel >= 1; memLevel--)
      for (const strategy of [0, 1, 2, 3, 4]) {
        const body = deflateRawSync(data, { level, memLevel, strategy, finishFlush: constants.Z_SYNC_FLUSH });
        for (const final of finals) {
          const room = length - header.length - body.length - final.length - trailer.length;
          if (room < 0 || room % emptyStored.length !== 0) continue;
          const padding = Array.from({ length: room / emptyStored.length }, () => emptyStored);
          const out = Buffer.concat([header, body, ...padding, final, trailer]);
          if (!inflateSync(out).equals(data)) throw new Error('padded zlib stream does not inflate to its input');
          return out;
        }
      }
  return null;
}

/** The E01 with the UTF-16 `X` of the notes in every header2 section replaced by a lone 0xD800. */
function withLoneSurrogateInHeader2(e01: Buffer): { image: Buffer; patched: number } {
  const image = Buffer.from(e01);
  let at = 13;
  let patched = 0;
  while (at + 76 <= image.length) {
    const type = image.subarray(at, at + 16).toString('latin1').replace(/\0.*$/s, '');
    const next = Number(image.readBigUInt64LE(at + 16));
    const size = Number(image.readBigUInt64LE(at + 24));
    if (type === 'header2') {
      const data = image.subarray(at + 76, at + size);
      const text = inflateSync(data);
      const i = text.indexOf(Buffer.from('N\0O\0T\0E\0-\0X\0Y\0', 'latin1'));
      if (i === -1) throw new Error('notes not found in header2');
      text[i + 10] = 0x00;
      text[i + 11] = 0xd8;
      // Room for the padded stream's few extra bytes: the description's random tail becomes dashes
      // (same length in code units), which compress to far less.
      const tail = text.indexOf(Buffer.from(DESCRIPTION_TAIL, 'utf16le'));
      if (tail === -1) throw new Error('description not found in header2');
      text.fill(Buffer.from('-', 'utf16le'), tail, tail + DESCRIPTION_TAIL.length * 2);
      const again = deflateToLength(text, data.length);
      if (!again) throw new Error(`no zlib setting gives ${data.length} bytes for the patched header2`);
      again.copy(image, at + 76);
      patched += 1;
    }
    if (type === 'done' || next <= at) break;
    at = next;
  }
  return { image, patched };
}

describe.skipIf(missing.length > 0)('E01 whose header2 holds a lone surrogate (regression lone-surrogate-ewf-header-refused)', () => {
  let dir = '';
  let image: Buffer;
  const p = (name: string) => path.join(dir, name);

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-lone-surrogate-ewf-'));
    run('mkfs.fat', ['-C', '-F', '12', '-n', 'NOTES', p('card.img'), '1400']);
    writeFileSync(p('payload'), pseudoRandom(30_000, 43));
    run('mcopy', ['-i', p('card.img'), p('payload'), '::/IMG_0001.JPG']);
    run('ewfacquire', ['-u', '-t', p('card'), '-c', 'none', '-C', 'CASE-7', '-E', 'CARD-1', '-e', 'Examiner Jones', '-D', `Camera card ${DESCRIPTION_TAIL}`, '-N', 'NOTE-XY', '-d', 'sha1', p('card.img')]);
    const built = withLoneSurrogateInHeader2(readFileSync(p('card.E01')));
    expect(built.patched).toBe(2);
    image = built.image;
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(allTargets().filter((t) => t.name !== 'pglite (disk)'))('index on $name', (target) => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(inject('storageConnectionString'), await target.create());
    }, 60_000);
    afterAll(async () => {
      await h?.close();
      await target.dispose();
    });

    it('unpacks and records the header with the surrogate escaped visibly, never refused, never U+FFFD', async () => {
      const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
      const first = await addArchive(h, 'card.E01', image, { mime: DISK_IMAGE_MIMES.ewf, evidenceId });
      const outcome = await unpackStage(h.deps, first, h.ctx);
      // Before: failed, jsonb refused the disk_images row ("Unicode low surrogate must follow a high surrogate").
      expect(outcome, JSON.stringify(outcome).slice(0, 400)).toMatchObject({ status: 'done' });
      const record = await h.index.getDiskImage(first.fileId);
      expect(record).toMatchObject({ format: 'ewf', integrity: 'verified', ewfHeader: { caseNumber: 'CASE-7', examiner: 'Examiner Jones', notes: 'NOTE-\\u{d800}Y' } });
      expect((record!.ewfHeader!['values'] as Record<string, string>)['t']).toBe('NOTE-\\u{d800}Y');
      expect(JSON.stringify(record!.ewfHeader)).not.toContain('\ufffd');
      const members = await h.index.listChildren(first.fileId);
      expect(members.map((m) => m.path.split('!/')[1])).toContain('IMG_0001.JPG');
    }, 180_000);
  });
});
