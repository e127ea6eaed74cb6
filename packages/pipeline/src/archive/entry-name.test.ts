import { describe, expect, it } from 'vitest';
import { analyseEntryName, decodeRecordedBytes, DuplicateNameTracker } from './entry-name.js';

const analyse = (name: string, validEncoding = true) => analyseEntryName(name, { maxNameBytes: 4096, validEncoding, entryIndex: 7 });

describe('analyseEntryName', () => {
  it('keeps an ordinary relative name as it is', () => {
    expect(analyse('photos/2024/IMG_0001.JPG')).toEqual({
      recordedName: 'photos/2024/IMG_0001.JPG',
      displayPath: 'photos/2024/IMG_0001.JPG',
      name: 'IMG_0001.JPG',
      extension: 'jpg',
      flags: [],
    });
  });

  it('zip-slip: resolves ../ against a root it never leaves and flags path-traversal', () => {
    const a = analyse('a/../../etc/passwd');
    expect(a.displayPath).toBe('etc/passwd');
    expect(a.recordedName).toBe('a/../../etc/passwd');
    expect(a.flags).toContain('path-traversal');
    expect(analyse('../../../../x').displayPath).toBe('x');
  });

  it('flags absolute paths (slash, backslash, drive letter, UNC) and makes them relative', () => {
    for (const name of ['/etc/shadow', '\\etc\\shadow', 'C:\\etc\\shadow', 'c:/etc/shadow', '//etc/shadow']) {
      const a = analyse(name);
      expect(a.flags, name).toContain('absolute-path');
      expect(a.displayPath, name).toBe('etc/shadow');
    }
    const unc = analyse('\\\\server\\share\\x');
    expect(unc.flags).toContain('absolute-path');
    expect(unc.displayPath).toBe('server/share/x');
  });

  it('treats backslashes as separators (so ..\\ is traversal) and flags odd-name', () => {
    const a = analyse('..\\..\\windows\\system32\\evil.dll');
    expect(a.displayPath).toBe('windows/system32/evil.dll');
    expect(a.flags).toEqual(expect.arrayContaining(['odd-name', 'path-traversal']));
  });

  it('escapes control and bidi characters visibly and flags odd-name', () => {
    const a = analyse('dir/evil\u001b[31m\u0007.txt');
    expect(a.displayPath).toBe('dir/evil\\u{1b}[31m\\u{7}.txt');
    expect(a.flags).toContain('odd-name');
    const rlo = analyse('invoice\u202Etxt.exe');
    expect(rlo.displayPath).toBe('invoice\\u{202e}txt.exe');
    expect(rlo.extension).toBe('exe');
    expect(rlo.flags).toContain('odd-name');
  });

  it('replaces NUL in the recorded name (PostgreSQL text cannot hold it) and flags odd-name', () => {
    const a = analyse('a\u0000b.txt');
    expect(a.recordedName).toBe('a\u2400b.txt');
    expect(a.flags).toContain('odd-name');
  });

  it('flags empty and "." segments but not a leading ./ (as tar writes it)', () => {
    expect(analyse('./docs/a.txt')).toMatchObject({ displayPath: 'docs/a.txt', flags: [] });
    expect(analyse('docs//a.txt')).toMatchObject({ displayPath: 'docs/a.txt', flags: ['odd-name'] });
    expect(analyse('docs/./a.txt')).toMatchObject({ displayPath: 'docs/a.txt', flags: ['odd-name'] });
    expect(analyse('./')).toMatchObject({ displayPath: '.', flags: [] });
  });

  it('keeps a directory trailing slash out of the display path', () => {
    expect(analyse('docs/sub/')).toMatchObject({ displayPath: 'docs/sub', name: 'sub', flags: [] });
  });

  it('names an entry whose name resolves to nothing', () => {
    for (const name of ['', '/', '..', 'a/..']) {
      const a = analyse(name);
      expect(a.displayPath, JSON.stringify(name)).toBe('(unnamed entry 7)');
      expect(a.flags).toContain('odd-name');
    }
  });

  it('cuts names longer than maxNameBytes on a character boundary and flags odd-name', () => {
    const long = 'é'.repeat(3000); // 6000 bytes
    const a = analyseEntryName(long, { maxNameBytes: 4095, entryIndex: 0 });
    expect(Buffer.byteLength(a.recordedName)).toBe(4094);
    expect(a.recordedName).toBe('é'.repeat(2047));
    expect(a.flags).toContain('odd-name');
  });

  it('flags a name that was not valid in its declared encoding', () => {
    expect(analyse('caf\u00e9.txt', false).flags).toContain('odd-name');
  });

  it('extension: lower case, none for dot files or a trailing dot', () => {
    expect(analyse('a/B.TaR.Gz').extension).toBe('gz');
    expect(analyse('.bashrc').extension).toBeNull();
    expect(analyse('file.').extension).toBeNull();
    expect(analyse('README').extension).toBeNull();
  });
});

describe('decodeRecordedBytes', () => {
  it('reads flagged UTF-8 names as UTF-8', () => {
    expect(decodeRecordedBytes(Buffer.from('Grüße/日本.txt'), 'utf8')).toEqual({ text: 'Grüße/日本.txt', validEncoding: true });
  });

  it('reads unflagged ZIP names as CP437 unless they are valid UTF-8', () => {
    expect(decodeRecordedBytes(Buffer.from([0x81, 0x62, 0x65, 0x72]), 'cp437')).toEqual({ text: 'über', validEncoding: true });
    expect(decodeRecordedBytes(Buffer.from('über'), 'cp437')).toEqual({ text: 'über', validEncoding: true });
  });

  it('falls back to a byte-for-byte code page for invalid UTF-8, keeping the bytes recoverable', () => {
    const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
    const tarName = decodeRecordedBytes(bytes, 'unknown');
    expect(tarName.validEncoding).toBe(false);
    expect(Buffer.from(tarName.text, 'latin1')).toEqual(bytes);
    const zipName = decodeRecordedBytes(bytes, 'utf8');
    expect(zipName.validEncoding).toBe(false);
    expect(zipName.text).toBe('a\u00a0\u25a0b');
  });

  it('keeps a leading byte-order mark as recorded', () => {
    expect(decodeRecordedBytes(Buffer.from('\ufeffname', 'utf8'), 'utf8').text).toBe('\ufeffname');
  });
});

describe('DuplicateNameTracker', () => {
  it('reports the first index for a repeated path, comparing Unicode-normalised forms', () => {
    const t = new DuplicateNameTracker();
    expect(t.check('a/b.txt', 0)).toBeUndefined();
    expect(t.check('a/c.txt', 1)).toBeUndefined();
    expect(t.check('a/b.txt', 2)).toBe(0);
    expect(t.check('caf\u00e9', 3)).toBeUndefined();
    expect(t.check('cafe\u0301', 4)).toBe(3);
  });
});

describe('analyseEntryName with lone surrogates (UTF-16 names from NTFS, exFAT, FAT long names)', () => {
  it('escapes a lone surrogate visibly in the recorded name and the display path, with odd-name', () => {
    const a = analyse('dir\\re\ud800port.txt');
    expect(a.recordedName).toBe('dir\\re\\u{d800}port.txt');
    expect(a.displayPath).toBe('dir/re\\u{d800}port.txt');
    expect(a.name).toBe('re\\u{d800}port.txt');
    expect(a.extension).toBe('txt');
    expect(a.flags).toContain('odd-name');
    expect(a.recordedName).not.toContain('\ufffd');
  });

  it('keeps two names that differ only in the lone surrogate apart', () => {
    const high = analyse('x\ud800.txt');
    const low = analyse('x\udc00.txt');
    expect(high.recordedName).not.toBe(low.recordedName);
    expect(high.displayPath).not.toBe(low.displayPath);
    const t = new DuplicateNameTracker();
    expect(t.check(high.displayPath, 0)).toBeUndefined();
    expect(t.check(low.displayPath, 1)).toBeUndefined();
  });

  it('leaves a surrogate pair (a real character) alone', () => {
    const a = analyse('smile\ud83d\ude00.png');
    expect(a.recordedName).toBe('smile\ud83d\ude00.png');
    expect(a.displayPath).toBe('smile\ud83d\ude00.png');
    expect(a.flags).not.toContain('odd-name');
  });

  it('cuts a long name without turning its lone surrogate into U+FFFD, within maxNameBytes', () => {
    const name = `\ud800${'a'.repeat(100)}`;
    const a = analyseEntryName(name, { maxNameBytes: 20, entryIndex: 0 });
    expect(a.recordedName).toBe(`\\u{d800}${'a'.repeat(12)}`);
    expect(Buffer.byteLength(a.recordedName, 'utf8')).toBeLessThanOrEqual(20);
    expect(a.flags).toContain('odd-name');
  });
});
