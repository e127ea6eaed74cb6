import { describe, expect, it } from 'vitest';
import { formatRatio, median, medianPairIndex, pairRatio, ratioLine } from './pair-ratios.summary.js';

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the two middle ones of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
  it('refuses no values and values that are not finite', () => {
    expect(() => median([])).toThrow();
    expect(() => median([1, Number.NaN])).toThrow();
  });
});

describe('pair ratios', () => {
  const pairs = [
    { baselineFilesPerSec: 5, exhibitFilesPerSec: 3 }, // 0.6
    { baselineFilesPerSec: 6, exhibitFilesPerSec: 3 }, // 0.5
    { baselineFilesPerSec: 4, exhibitFilesPerSec: 3.2 }, // 0.8
  ];
  it('divides Exhibit files/s by the baseline files/s', () => {
    expect(pairRatio(pairs[0]!)).toBeCloseTo(0.6, 12);
    expect(() => pairRatio({ baselineFilesPerSec: 0, exhibitFilesPerSec: 1 })).toThrow();
  });
  it('prints the median ratio on the exact line the issue names', () => {
    expect(ratioLine(pairs)).toBe('ratio to shell baseline (median of 3 pairs): 0.60');
  });
  it('picks the pair closest to the median for the full breakdown', () => {
    expect(medianPairIndex(pairs)).toBe(0);
    expect(medianPairIndex([pairs[2]!, pairs[1]!])).toBe(0);
  });
  it('formats with two decimals', () => {
    expect(formatRatio(2)).toBe('2.00');
    expect(formatRatio(0.1749)).toBe('0.17');
  });
});
