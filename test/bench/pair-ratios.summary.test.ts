import { describe, expect, it } from 'vitest';
import { formatRatio, knownHashesLine, median, medianPairIndex, pairRatio, percentChange, ratioLine, withWithoutRatios } from './pair-ratios.summary.js';

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

describe('known hashes loaded against none', () => {
  const pairs = [
    { withFilesPerSec: 2.97, withoutFilesPerSec: 3, withCpuMsPerFile: 505, withoutCpuMsPerFile: 500 }, // 0.99, 1.01
    { withFilesPerSec: 3.3, withoutFilesPerSec: 3, withCpuMsPerFile: 480, withoutCpuMsPerFile: 500 }, // 1.10, 0.96
    { withFilesPerSec: 2.85, withoutFilesPerSec: 3, withCpuMsPerFile: 520, withoutCpuMsPerFile: 500 }, // 0.95, 1.04
  ];
  it('divides the run with the set enabled by the run without, per pair', () => {
    const r = withWithoutRatios(pairs[0]!);
    expect(r.filesPerSec).toBeCloseTo(0.99, 12);
    expect(r.cpuPerFile).toBeCloseTo(1.01, 12);
    expect(() => withWithoutRatios({ ...pairs[0]!, withoutFilesPerSec: 0 })).toThrow();
    expect(() => withWithoutRatios({ ...pairs[0]!, withoutCpuMsPerFile: Number.NaN })).toThrow();
  });
  it('prints the medians of both ratios, each with its change in percent, on one line', () => {
    expect(knownHashesLine(20_000_000, pairs)).toBe(
      'known hashes 20,000,000 loaded ÷ none (median of 3 pairs): files/s 0.990 (−1.0 %), CPU/file 1.010 (+1.0 %)',
    );
  });
  it('signs the change', () => {
    expect(percentChange(1)).toBe('+0.0 %');
    expect(percentChange(0.97)).toBe('−3.0 %');
    expect(percentChange(1.034)).toBe('+3.4 %');
  });
});
