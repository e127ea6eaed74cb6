import { describe, expect, it } from 'vitest';
import { orderSegmentFiles, parseSegmentName, segmentSets } from './image-segments.js';

describe('segment names', () => {
  it('E01–E99 and .001 … are segments; ordinary extensions are not', () => {
    expect(parseSegmentName('c/e/card.E02')).toMatchObject({ stem: 'c/e/card.', kind: 'ewf', number: 2, lettered: false });
    expect(parseSegmentName('c/e/disk.0003')).toMatchObject({ kind: 'raw', number: 3 });
    for (const name of ['card.img', 'card.vhd', 'card.exe', 'card.E00', 'disk.000', 'card.E01/x', 'card']) expect(parseSegmentName(name), name).toBeNull();
    // The letter form after E99 only when asked for (segmentSets decides when it applies).
    expect(parseSegmentName('card.EAA', { lettered: true })).toMatchObject({ number: 100, lettered: true });
    expect(parseSegmentName('card.FAA', { lettered: true })).toMatchObject({ number: 100 + 676 });
  });

  it('regression: card.img beside card.E01 is another file, not a segment; EAA joins only a set that reached E99', () => {
    const small = segmentSets(['card.E01', 'card.E02', 'card.img', 'card.vhd', 'card.EAA'], (n) => n);
    expect([...small.values()].map((set) => set.map((s) => s.item))).toEqual([['card.E01', 'card.E02']]);
    const full = Array.from({ length: 99 }, (_, i) => `card.E${String(i + 1).padStart(2, '0')}`);
    const large = segmentSets([...full, 'card.EAA', 'card.img'], (n) => n);
    expect([...large.values()][0]!.map((s) => s.item)).toEqual([...full, 'card.EAA']);
  });

  it('orders local pieces by their numbers; a gap is the named failure; unrelated files stay as given', () => {
    expect(orderSegmentFiles(['d.003', 'd.001', 'd.002'])).toEqual(['d.001', 'd.002', 'd.003']);
    expect(orderSegmentFiles(['card.img', 'other.bin'])).toEqual(['card.img', 'other.bin']);
    expect(() => orderSegmentFiles(['d.001', 'd.003'])).toThrow(/segment 2 of d\.001 was not given \[segment-missing\]/);
  });
});
