import { describe, expect, it } from 'vitest';
import { volumeIssueOf, volumeNoteOf, volumeNoteText, volumeProblemText } from './ports/index-store.js';

describe('volume problems and notes read back from their stored text', () => {
  it('volume-problem-code-read-back-as-corrupt-file: each code of a problem comes back as stored, with its where and message', () => {
    const cases: Array<[string, string, string]> = [
      ['mbr 2', 'corrupt-file', 'partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk'],
      ['ebr 4', 'limit-exceeded', 'more than 128 logical partitions'],
      ['mbr', 'sector-size-inferred', 'the image records 4096-byte sectors, but at 4096 bytes a sector the entries overrun the disk: the partitions are placed in 512-byte sectors'],
      ['gpt entries', 'corrupt-file', 'GPT entry array CRC-32 mismatch; entries read anyway'],
      ['gpt 3', 'corrupt-file', 'GPT entry ends (LBA 10) before it starts (LBA 20): a message with: colons'],
    ];
    for (const [where, code, message] of cases) {
      const text = volumeProblemText(where, code, message);
      expect(volumeIssueOf(text), text).toEqual({ kind: 'problem', where, code, message });
      // A problem is never read as a note.
      expect(volumeNoteOf(text)).toBeNull();
    }
  });

  it('reads a note as a note with its code, and a problem recorded before codes with code null', () => {
    const note = volumeNoteText('mbr 0', 'read-past-entry', 'volume 0: its fat file system declares 4194304 bytes, its partition entry 3145728');
    expect(volumeIssueOf(note)).toEqual({ kind: 'note', where: 'mbr 0', code: 'read-past-entry', message: 'volume 0: its fat file system declares 4194304 bytes, its partition entry 3145728' });
    expect(volumeIssueOf('gpt header: primary GPT header CRC-32 mismatch')).toEqual({ kind: 'problem', where: 'gpt header', code: null, message: 'primary GPT header CRC-32 mismatch' });
    expect(volumeIssueOf('no where at all')).toEqual({ kind: 'problem', where: '', code: null, message: 'no where at all' });
  });
});
