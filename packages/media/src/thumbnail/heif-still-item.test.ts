import { describe, expect, it } from 'vitest';
import { declaresStillItem } from './heif-still-item.js';

const box = (type: string, ...children: Buffer[]) => {
  const body = Buffer.concat(children);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
};
const ftyp = box('ftyp', Buffer.from('msf1\0\0\0\0msf1', 'latin1'));
const fullBox = (type: string, ...children: Buffer[]) => box(type, Buffer.alloc(4), ...children);

describe('declaresStillItem (HEIF by box headers)', () => {
  it('is false for a sequence with only its track, true when meta has a primary item or an item list', () => {
    expect(declaresStillItem(Buffer.concat([ftyp, box('moov', box('trak'))]))).toBe(false);
    expect(declaresStillItem(Buffer.concat([ftyp, fullBox('meta', fullBox('hdlr')), box('moov')]))).toBe(false);
    expect(declaresStillItem(Buffer.concat([ftyp, box('moov'), fullBox('meta', fullBox('hdlr'), fullBox('pitm', Buffer.alloc(2)))]))).toBe(true);
    expect(declaresStillItem(Buffer.concat([ftyp, fullBox('meta', fullBox('iinf', Buffer.alloc(2)))]))).toBe(true);
  });

  it('counts malformed boxes and a spent budget as declaring a still (nothing is substituted)', () => {
    const overlong = Buffer.concat([ftyp, box('moov')]);
    overlong.writeUInt32BE(1 << 20, ftyp.length);
    expect(declaresStillItem(overlong)).toBe(true);
    expect(declaresStillItem(Buffer.concat([ftyp, ...Array.from({ length: 300 }, () => box('free'))]))).toBe(true);
  });
});
