import { describe, expect, it } from 'vitest';
import { toJsonSafe } from './json-safe.js';

describe('toJsonSafe', () => {
  it('turns tool output into plain JSON data', () => {
    const out = toJsonSafe({
      ifd0: new Map<string, unknown>([['Make', 'Canon'], ['fn', () => 1]]),
      exif: { ExifVersion: new Uint8Array([48, 50, 51, 49]), Big: new Uint8Array(4096), Ratio: Infinity, N: 10n, When: new Date(Date.UTC(2024, 0, 2)) },
    });
    expect(out).toEqual({
      ifd0: { Make: 'Canon' },
      exif: {
        ExifVersion: { type: 'bytes', length: 4, base64: 'MDIzMQ==' },
        Big: { type: 'bytes', length: 4096 },
        Ratio: 'Infinity',
        N: '10',
        When: '2024-01-02T00:00:00.000Z',
      },
    });
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('keeps keys read from a file as data, even __proto__', () => {
    const hostile = JSON.parse('{"xmp": {"__proto__": {"polluted": true}, "title": "x"}}') as Record<string, unknown>;
    const out = toJsonSafe(hostile);
    expect(Object.keys(out.xmp as object)).toEqual(['__proto__', 'title']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toContain('"__proto__":{"polluted":true}');
  });

  it('caps the dump, dropping the largest values first and saying so', () => {
    const out = toJsonSafe({
      xmp: { Description: 'x'.repeat(1500), Title: 'short' },
      iptc: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(100)])),
    }, 8 * 1024);
    const size = Buffer.byteLength(JSON.stringify(out));
    expect(size).toBeLessThanOrEqual(8 * 1024);
    expect(out._truncated).toBe(true);
    expect((out.xmp as Record<string, unknown>).Title).toBe('short');
    expect((out.xmp as Record<string, unknown>).Description).toEqual({ omitted: 1502 });
  });
});
