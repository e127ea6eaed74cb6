import { describe, expect, it } from 'vitest';
import { acquisitionFromMetadata } from '@exhibit/pipeline';
import {
  acquisitionMetadata,
  decodeMetadataValue,
  encodeMetadataValue,
  hashMismatches,
  HASH_ORIGIN_METADATA_KEY,
  MAX_METADATA_BYTES,
  parseHashHex,
} from './acquisition-metadata.js';

const computed = { md5: 'a'.repeat(32), sha1: 'b'.repeat(40), sha256: 'c'.repeat(64) };

describe('metadata value encoding', () => {
  it('keeps printable ASCII as is and encodes everything else so decodeURIComponent restores it', () => {
    expect(encodeMetadataValue('J. Smith (DC 123)')).toBe('J. Smith (DC 123)');
    for (const text of ['Zoë Ørsted', '100% sure', 'line\nbreak', ' padded ', '证据', 'tab\there', 'a%20b']) {
      const stored = encodeMetadataValue(text);
      expect(stored).toMatch(/^[\x20-\x7e]*$/);
      expect(decodeMetadataValue(stored)).toBe(text);
      expect(decodeURIComponent(stored)).toBe(text);
    }
  });

  it('decodes a value with a stray % without losing it', () => {
    expect(decodeMetadataValue('50%off')).toBe('50%off');
  });
});

describe('acquisitionMetadata', () => {
  it('records computed hashes when none are given and says so', () => {
    const m = acquisitionMetadata({ examiner: 'Zoë' }, computed);
    expect(m).toEqual({
      acquisition_md5: computed.md5,
      acquisition_sha1: computed.sha1,
      acquisition_sha256: computed.sha256,
      [HASH_ORIGIN_METADATA_KEY]: 'md5:computed;sha1:computed;sha256:computed',
      examiner: 'Zo%C3%AB',
    });
  });

  it('records given hashes exactly as given, and the ingest decoder reads everything back', () => {
    const given = { sha256: 'd'.repeat(64), exhibitRef: 'JS/1', description: 'Samsung – seized 2024' };
    const m = acquisitionMetadata(given, computed);
    expect(m.acquisition_sha256).toBe('d'.repeat(64));
    expect(m[HASH_ORIGIN_METADATA_KEY]).toBe('md5:computed;sha1:computed;sha256:given');
    expect(acquisitionFromMetadata(m)).toEqual({ ...given, md5: computed.md5, sha1: computed.sha1 });
  });

  it('refuses text too long for blob metadata', () => {
    expect(() => acquisitionMetadata({ description: 'x'.repeat(MAX_METADATA_BYTES) }, computed)).toThrow(/too long/);
  });
});

describe('hashes typed by people', () => {
  it('accepts any case and surrounding space, returns lowercase', () => {
    expect(parseHashHex('md5', `  ${'AB'.repeat(16)} `)).toBe('ab'.repeat(16));
  });

  it('rejects wrong lengths and non-hex', () => {
    expect(() => parseHashHex('sha1', 'ab'.repeat(16))).toThrow(/40 hexadecimal/);
    expect(() => parseHashHex('sha256', 'g'.repeat(64))).toThrow(/64 hexadecimal/);
  });

  it('lists only the given hashes that differ', () => {
    expect(hashMismatches({}, computed)).toEqual([]);
    expect(hashMismatches({ md5: computed.md5, sha256: 'e'.repeat(64) }, computed)).toEqual([
      { algorithm: 'sha256', given: 'e'.repeat(64), computed: computed.sha256 },
    ]);
  });
});
