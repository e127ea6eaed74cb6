import { describe, expect, it } from 'vitest';
import { carriedStopLine, type CarriedStop } from './unpack.stage.js';

const stop = (detail: string): CarriedStop => ({ code: 'limit-exceeded', reason: 'budget-exceeded', detail });
const detailOf = (line: string) => (JSON.parse(line) as CarriedStop).detail;

describe('carriedStopLine', () => {
  // The chain's last attempt records the carried detail: cut, it differed from the one-attempt detail (500 UTF-16 units).
  it('carried-detail-cut-where-one-attempt-keeps-it-whole', () => {
    const detail = `volume 0 (ext4): ${'a long finding, '.repeat(60)}`;
    expect(detail.length).toBeGreaterThan(500);
    expect(detailOf(carriedStopLine(stop(detail), 4000))).toBe(detail);
  });

  it('cuts on a code point, never leaving half a surrogate pair, and fits the bytes however escaped', () => {
    for (const unit of ['😀', '\u0001', 'é', 'x']) {
      const detail = unit.repeat(3000);
      const line = carriedStopLine(stop(detail), 1000);
      expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(1000);
      const cut = detailOf(line);
      expect(cut.endsWith('…')).toBe(true);
      const kept = cut.slice(0, -1);
      expect(kept.length).toBeGreaterThan(0);
      expect([...kept].every((c) => c === unit)).toBe(true);
    }
  });
});
