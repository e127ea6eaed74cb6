import { deflateSync } from 'node:zlib';
import { LIMITS } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { MemorySource } from './test-support/memory.source.js';
import { SectionWalk, adler32, recogniseChunk } from './ewf-image.container.js';

/**
 * The walk of a cut EWF sectors section (SectionWalk) on forged section data: its bounds, and a chunk whose form
 * cannot be told. The walk over real ewfacquire images is held to TSK in ewf-cut-sectors.oracle.test.ts.
 */

const CHUNK = 512;

function walkOver(bytes: Buffer, mediaChunks: number): SectionWalk {
  const section = { type: 'sectors', offset: 0, size: bytes.length + 76 };
  return new SectionWalk(new MemorySource(bytes), { segment: 0, start: 0, end: bytes.length, section }, 0, CHUNK, mediaChunks * CHUNK, 1);
}

describe('EWF cut sectors section walk (forged sections)', () => {
  it('a section of more tiny zlib chunks than LIMITS.maxEwfCutSectionWalkChunks: the walk stops at the limit, naming it', async () => {
    const zero = deflateSync(Buffer.alloc(CHUNK));
    const count = LIMITS.maxEwfCutSectionWalkChunks + 2;
    const bytes = Buffer.concat(Array.from({ length: count }, () => zero));
    const walk = walkOver(bytes, count + 10);
    const last = await walk.locate(LIMITS.maxEwfCutSectionWalkChunks - 1);
    expect(last).toEqual({ segment: 0, offset: (LIMITS.maxEwfCutSectionWalkChunks - 1) * zero.length, size: zero.length, compressed: true });
    expect(await walk.locate(LIMITS.maxEwfCutSectionWalkChunks)).toMatch(`places at most LIMITS.maxEwfCutSectionWalkChunks (${LIMITS.maxEwfCutSectionWalkChunks}) chunks`);
  });

  it('walk-of-16-mib-zero-chunks-ran-minutes: a forged section of large chunks that compress to little stops at LIMITS.maxEwfCutSectionWalkCheckedBytes, naming it', { timeout: 120_000 }, async () => {
    // 16 MiB chunks of zeros take ~16 KB each: within the byte limit, ~65,000 of them (~1 TiB to inflate, minutes).
    const big = 16 * 1024 * 1024;
    const zero = deflateSync(Buffer.alloc(big));
    const fit = Math.floor(LIMITS.maxEwfCutSectionWalkCheckedBytes / big);
    const bytes = Buffer.concat(Array.from({ length: fit + 2 }, () => zero));
    const section = { type: 'sectors', offset: 0, size: bytes.length + 76 };
    const walk = new SectionWalk(new MemorySource(bytes), { segment: 0, start: 0, end: bytes.length, section }, 0, big, (fit + 10) * big, 1);
    expect(await walk.locate(fit - 1)).toEqual({ segment: 0, offset: (fit - 1) * zero.length, size: zero.length, compressed: true });
    expect(await walk.locate(fit)).toMatch(`stopped at chunk ${fit} (at ${fit * zero.length}): the walk of a section checks at most LIMITS.maxEwfCutSectionWalkCheckedBytes (${LIMITS.maxEwfCutSectionWalkCheckedBytes} bytes) of chunks`);
  });

  it('a chunk that verifies both as stored bytes with their Adler-32 and as a zlib stream is not placed: its form is not known', async () => {
    // A zlib stream of one stored deflate block holding D: 2-byte header, 5-byte block header, D, Adler-32 of D. Its
    // first 512 bytes are the 7 header bytes and D[0..505]; the 4 after them are D[505..509], set to their Adler-32.
    const data = Buffer.from(Array.from({ length: CHUNK }, (_, i) => (i * 7) & 0xff));
    const stream = () => {
      const trailer = Buffer.alloc(4);
      trailer.writeUInt32BE(adler32(data));
      return Buffer.concat([Buffer.from([0x78, 0x01, 0x01, CHUNK & 0xff, CHUNK >> 8, ~CHUNK & 0xff, (~CHUNK >> 8) & 0xff]), data, trailer]);
    };
    data.writeUInt32LE(adler32(stream().subarray(0, CHUNK)), 505);
    const both = stream();
    expect(adler32(both.subarray(0, CHUNK))).toBe(both.readUInt32LE(CHUNK));
    expect(recogniseChunk(both, CHUNK, CHUNK)).toBe('it verifies both as a stored chunk and as a zlib stream: its form is not known');
    // Before it, a good chunk: placed; the ambiguous one stops the walk, the good one after it stays lost.
    const good = deflateSync(Buffer.alloc(CHUNK, 1));
    const walk = walkOver(Buffer.concat([good, both, good]), 3);
    expect(await walk.locate(0)).toMatchObject({ offset: 0, size: good.length, compressed: true });
    expect(await walk.locate(1)).toMatch(/stopped at chunk 1 .*its form is not known/);
    expect(await walk.locate(2)).toMatch(/stopped at chunk 1 /);
  });

  it('the walk never places a chunk a table places (counted from the back): limitChunks bounds it', async () => {
    const good = deflateSync(Buffer.alloc(CHUNK, 2));
    const walk = walkOver(Buffer.concat([good, good, good, good]), 4);
    walk.limitChunks(2);
    expect(await walk.locate(1)).toMatchObject({ offset: good.length });
    expect(await walk.locate(2)).toMatch(/the chunks after it are placed by the tables or past the media/);
  });

  it('the last chunk of the media is its own size (stored or compressed); a zlib stream inflating to the full chunk size there is not placed', async () => {
    const media = CHUNK + 100;
    const tail = Buffer.alloc(100, 3);
    const stored = Buffer.alloc(104);
    tail.copy(stored);
    stored.writeUInt32LE(adler32(tail), 100);
    const section = { type: 'sectors', offset: 0, size: 0 };
    const open = (bytes: Buffer) => new SectionWalk(new MemorySource(bytes), { segment: 0, start: 0, end: bytes.length, section }, 0, CHUNK, media, 1);
    const first = deflateSync(Buffer.alloc(CHUNK, 4));
    expect(await open(Buffer.concat([first, stored])).locate(1)).toMatchObject({ offset: first.length, size: 104, compressed: false });
    expect(await open(Buffer.concat([first, deflateSync(tail)])).locate(1)).toMatchObject({ offset: first.length, compressed: true });
    expect(await open(Buffer.concat([first, deflateSync(Buffer.alloc(CHUNK, 3))])).locate(1)).toMatch(/its zlib stream inflates to 512 bytes, not 100/);
  });
});
