import { describe, expect, it } from 'vitest';
import { heifTransforms, orientationOfTransforms } from './heif-transforms.js';

/** An ISO-BMFF box; `full` prefixes version and flags. */
function box(type: string, payload: Buffer, full?: { version: number; flags: number }): Buffer {
  const head = Buffer.alloc(full ? 12 : 8);
  head.writeUInt32BE(head.length + payload.length, 0);
  head.write(type, 4, 'latin1');
  if (full) head.writeUInt32BE((full.version << 24) | full.flags, 8);
  return Buffer.concat([head, payload]);
}

/** A HEIF head: ftyp, then meta with pitm (primary item 1), and the given properties associated with `item`. */
function heif(properties: Buffer[], item = 1): Buffer {
  const ipco = box('ipco', Buffer.concat(properties));
  const assoc = Buffer.alloc(4 + 2 + 1 + properties.length);
  assoc.writeUInt32BE(1, 0); // entry count
  assoc.writeUInt16BE(item, 4);
  assoc[6] = properties.length;
  properties.forEach((_, i) => (assoc[7 + i] = 0x80 | (i + 1))); // essential, 1-based index
  const ipma = box('ipma', assoc, { version: 0, flags: 0 });
  const pitm = box('pitm', Buffer.from([0x00, 0x01]), { version: 0, flags: 0 });
  const meta = box('meta', Buffer.concat([pitm, box('iprp', Buffer.concat([ipco, ipma]))]), { version: 0, flags: 0 });
  const ftyp = box('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
  return Buffer.concat([ftyp, meta, box('mdat', Buffer.alloc(16))]);
}

const ispe = box('ispe', Buffer.from([0, 0, 0, 64, 0, 0, 0, 48]), { version: 0, flags: 0 });

describe('heifTransforms', () => {
  it('reads irot and imir associated with the primary item', () => {
    expect(heifTransforms(heif([ispe]))).toEqual({ rotationCcw: 0, mirrorAxis: null });
    expect(heifTransforms(heif([ispe, box('irot', Buffer.from([3]))]))).toEqual({ rotationCcw: 270, mirrorAxis: null });
    expect(heifTransforms(heif([box('irot', Buffer.from([1])), box('imir', Buffer.from([1]))]))).toEqual({ rotationCcw: 90, mirrorAxis: 1 });
  });

  it('ignores transforms of other items (a thumbnail, a tile)', () => {
    expect(heifTransforms(heif([ispe, box('irot', Buffer.from([2]))], 2))).toEqual({ rotationCcw: 0, mirrorAxis: null });
  });

  it('gives null for bytes without a readable meta box, and never reads past the buffer', () => {
    expect(heifTransforms(Buffer.from('not a heif at all'))).toBeNull();
    const whole = heif([ispe, box('irot', Buffer.from([1]))]);
    for (let cut = 0; cut < whole.length; cut += 7) expect(() => heifTransforms(whole.subarray(0, cut))).not.toThrow();
  });

  it('maps transforms to the EXIF orientation that shows the same', () => {
    expect(orientationOfTransforms({ rotationCcw: 0, mirrorAxis: null })).toBe(1);
    expect(orientationOfTransforms({ rotationCcw: 270, mirrorAxis: null })).toBe(6);
    expect(orientationOfTransforms({ rotationCcw: 90, mirrorAxis: null })).toBe(8);
    expect(orientationOfTransforms({ rotationCcw: 180, mirrorAxis: null })).toBe(3);
    expect(orientationOfTransforms({ rotationCcw: 0, mirrorAxis: 0 })).toBe(2);
    expect(orientationOfTransforms({ rotationCcw: 0, mirrorAxis: 1 })).toBe(4);
  });
});
