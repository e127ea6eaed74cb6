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
    const bytes = Buffer.byteLength(JSON.stringify({ names }));
    expect(wireErrorDetails({ names })).toEqual({ detailsDropped: `${bytes} bytes of details, beyond LIMITS.maxWireErrorDetailsBytes (4096)` });
    // At the limit: kept.
    const fill = 'x'.repeat(LIMITS.maxWireErrorDetailsBytes - Buffer.byteLength(JSON.stringify({ s: '' })));
    expect(wireErrorDetails({ s: fill })).toEqual({ s: fill });
    expect(wireErrorDetails({ s: `${fill}x` })).toMatchObject({ detailsDropped: expect.stringMatching(/^4097 bytes/) });
  });

  it('leaves behind details the boundary cannot carry, never the error', () => {
    expect(wireErrorDetails({ f: () => 1 })).toBeUndefined();
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(wireErrorDetails(cycle)).toBeUndefined();
    expect(wireErrorDetails(undefined)).toBeUndefined();
  });
});
