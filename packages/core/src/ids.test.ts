import { describe, expect, it } from 'vitest';
import { evidenceBlobName, parseEvidenceBlobName } from './ids.js';
import { LIMITS } from './limits.js';

// Evidence blob names are taken in up to Azure Storage's own limit and no further
// (regression long-unicode-blob-name-not-recorded): the index keys them by digest, so any
// name Azure allows can be recorded; a longer one exists only in an emulator and is rejected.
describe('evidence blob names at the length limit', () => {
  const prefix = 'C1/E1/';
  const named = (chars: number, unit = '語') => `${prefix}${unit.repeat(chars - prefix.length)}`;

  it('parses a name of exactly LIMITS.maxBlobNameChars, however many bytes it takes', () => {
    const name = named(LIMITS.maxBlobNameChars);
    expect(Buffer.byteLength(name)).toBeGreaterThan(3_000);
    expect(parseEvidenceBlobName(name)).toEqual({ caseId: 'C1', evidenceId: 'E1', fileName: name.slice(prefix.length) });
    expect(evidenceBlobName('C1', 'E1', name.slice(prefix.length))).toBe(name);
  });

  it('refuses one character more, in the parser and when a name is built', () => {
    const name = named(LIMITS.maxBlobNameChars + 1, 'a');
    expect(parseEvidenceBlobName(name)).toBeNull();
    expect(() => evidenceBlobName('C1', 'E1', name.slice(prefix.length))).toThrow(/1,?025 characters; Azure Storage allows at most 1,?024/);
  });

  it('counts UTF-16 code units, as Azure and JavaScript do: a character outside the BMP is two', () => {
    expect(parseEvidenceBlobName(`${prefix}${'😀'.repeat((LIMITS.maxBlobNameChars - prefix.length) / 2)}`)).not.toBeNull();
    expect(parseEvidenceBlobName(`${prefix}${'😀'.repeat((LIMITS.maxBlobNameChars - prefix.length) / 2)}a`)).toBeNull();
  });
});
