import { parseEvidenceBlobName } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { describeBadEvidenceName } from './ingest.stage.js';

describe('describeBadEvidenceName', () => {
  it.each([
    ['IMG_0001.JPG', /container root/],
    ['/E1/x.jpg', /empty case id/],
    ['C 1/E1/x.jpg', /case id "C 1" is not an id/],
    ['../E1/x.jpg', /case id "\.\." is not an id/],
    ['C1/x.jpg', /only one folder level/],
    ['C1/', /only one folder level/],
    ['C1//x.jpg', /empty evidence id/],
    ['C1/-E1/x.jpg', /evidence id "-E1" is not an id/],
    ['C1/E1/', /empty file name/],
    // Past Azure Storage's 1,024 characters: only an emulator holds it (long-unicode-blob-name-not-recorded).
    [`C1/E1/${'x'.repeat(1019)}`, /the name is 1,025 characters; evidence blob names are at most 1,024/],
  ])('%j: %s', (name, detail) => {
    // Each case is one the parser refuses; the description says which part is wrong.
    expect(parseEvidenceBlobName(name)).toBeNull();
    expect(describeBadEvidenceName(name)).toMatch(detail);
  });

  it('quotes a hostile segment escaped, and a long one cut short', () => {
    const hostile = describeBadEvidenceName('\u001b[2Jevil!/E1/x');
    expect(hostile).not.toContain('\u001b');
    expect(hostile).toContain('"\\u001b[2Jevil!"');
    const long = describeBadEvidenceName(`${'a'.repeat(5000)}!/E1/x`);
    expect(long).toContain(`"${'a'.repeat(80)}…"`);
    expect(long.length).toBeLessThan(250);
  });
});
