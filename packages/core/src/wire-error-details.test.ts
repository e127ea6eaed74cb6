import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { LIMITS } from './limits.js';
import { wireErrorDetails } from './wire-error-details.js';

describe('wireErrorDetails', () => {
  it('keeps small details as plain data, a copy', () => {
    const details = { reason: 'media-chunk-damaged', findings: ['archive-prefix'], at: 12n };
    const wired = wireErrorDetails(details);
    expect(wired).toEqual(details);
    expect(wired).not.toBe(details);
  });

  it('drops details beyond LIMITS.maxWireErrorDetailsBytes (a hostile file\'s names), with a marker naming their size', () => {
    expect(LIMITS.maxWireErrorDetailsBytes).toBe(4 * 1024);
    const names = Array.from({ length: 10_000 }, (_, i) => `name-${i}`);
    const bytes = serialize({ names }).byteLength;
    expect(wireErrorDetails({ names })).toEqual({ detailsDropped: `${bytes} bytes of details, beyond LIMITS.maxWireErrorDetailsBytes (4096)` });
    // At the limit: kept.
    // (the string's length prefix is a varint: its width depends on the length, so the fill is found, not computed)
    let fill = 'x'.repeat(LIMITS.maxWireErrorDetailsBytes - serialize({ s: '' }).byteLength);
    while (serialize({ s: fill }).byteLength > LIMITS.maxWireErrorDetailsBytes) fill = fill.slice(1);
    expect(serialize({ s: fill }).byteLength).toBe(LIMITS.maxWireErrorDetailsBytes);
    expect(wireErrorDetails({ s: fill })).toEqual({ s: fill });
    expect(wireErrorDetails({ s: `${fill}x` })).toMatchObject({ detailsDropped: expect.stringMatching(/^4097 bytes/) });
  });

  it('wire-error-details-map-contents-unmeasured: a Map, Set or Error carrying a large string is measured as the clone carries it, and dropped', () => {
    const big = 'x'.repeat(1024 * 1024);
    for (const details of [{ m: new Map([['k', big]]) }, { s: new Set([big]) }, { e: new Error(big) }]) {
      expect(wireErrorDetails(details)).toEqual({ detailsDropped: expect.stringMatching(/^\d{7,} bytes of details/) });
    }
  });

  it('wire-error-details-dropped-loses-classification: over the limit, short `reason`, `scope` and `code` strings stay; long ones and the rest go', () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `name-${i}`);
    expect(wireErrorDetails({ reason: 'media-chunk-damaged', scope: 'archive', code: 'x1', names })).toEqual({
      reason: 'media-chunk-damaged',
      scope: 'archive',
      code: 'x1',
      detailsDropped: expect.stringMatching(/bytes of details, beyond LIMITS\.maxWireErrorDetailsBytes/),
    });
    expect(wireErrorDetails({ reason: 'r'.repeat(5000), scope: 7, names })).toEqual({ detailsDropped: expect.any(String) });
  });

  it('leaves behind details the boundary cannot carry, never the error', () => {
    expect(wireErrorDetails({ f: () => 1 })).toBeUndefined();
    // A cycle the clone carries crosses as it is.
    const cycle: Record<string, unknown> = { n: 1 };
    cycle['self'] = cycle;
    const wired = wireErrorDetails(cycle)!;
    expect(wired['self']).toBe(wired);
    expect(wireErrorDetails(undefined)).toBeUndefined();
  });
});
