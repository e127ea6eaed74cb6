import { describe, expect, it } from 'vitest';
import { canonicalEtag, sameEtag } from './etag.js';

describe('canonicalEtag', () => {
  it('gives the quoted form for both spellings Azure Storage uses', () => {
    // getProperties: quoted; listBlobsFlat: unquoted (the cause of double rejected-blob rows).
    expect(canonicalEtag('"0x8DC1A2B3C4D5E6F"')).toBe('"0x8DC1A2B3C4D5E6F"');
    expect(canonicalEtag('0x8DC1A2B3C4D5E6F')).toBe('"0x8DC1A2B3C4D5E6F"');
    expect(sameEtag('0x8DC1', '"0x8DC1"')).toBe(true);
    expect(sameEtag('0x8DC1', '"0x8DC2"')).toBe(false);
  });

  it('keeps a weak tag weak and leaves an empty tag empty', () => {
    expect(canonicalEtag('W/"abc"')).toBe('W/"abc"');
    expect(canonicalEtag('W/abc')).toBe('W/"abc"');
    expect(sameEtag('W/"abc"', '"abc"')).toBe(false);
    expect(canonicalEtag('')).toBe('');
    expect(canonicalEtag(' "x" ')).toBe('"x"');
  });
});
