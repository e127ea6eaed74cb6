import { describe, expect, it } from 'vitest';
import { MEDIA_LIMITS } from '../media-limits.js';
import { imageDecodeSlotsFor } from './decode-slots.js';

describe('imageDecodeSlotsFor', () => {
  it('gives one decode per core on a small machine', () => {
    expect(imageDecodeSlotsFor(1)).toBe(1);
    expect(imageDecodeSlotsFor(2)).toBe(2);
  });

  it('stops at the limit on a large machine', () => {
    expect(imageDecodeSlotsFor(64)).toBe(MEDIA_LIMITS.maxConcurrentImageDecodes);
    expect(imageDecodeSlotsFor(MEDIA_LIMITS.maxConcurrentImageDecodes + 1)).toBe(MEDIA_LIMITS.maxConcurrentImageDecodes);
  });

  it('never gives none, whatever the machine reports', () => {
    for (const cores of [0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(imageDecodeSlotsFor(cores)).toBeGreaterThanOrEqual(1);
    expect(imageDecodeSlotsFor(Number.POSITIVE_INFINITY)).toBe(1);
    expect(imageDecodeSlotsFor(2.7)).toBe(2);
  });
});
