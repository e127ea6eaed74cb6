import { describe, expect, it } from 'vitest';
import { parseHashList } from './hash-list.js';

const md5 = 'd41d8cd98f00b204e9800998ecf8427e';
const sha1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
const sha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

describe('parseHashList', () => {
  it('reads md5sum/sha1sum/sha256sum output (text and binary mode, paths) and the BSD form, by base name', () => {
    const list = parseHashList(
      [`# made by the imaging tool`, `${md5}  ./card.E01`, `${sha1} *images/card.E01`, '', `SHA256 (card.E02) = ${sha256.toUpperCase()}`, `MD5 (card.E02) = ${md5}`].join('\r\n'),
      'card.hashes',
    );
    expect(Object.fromEntries(list)).toEqual({ 'card.E01': { md5, sha1 }, 'card.E02': { sha256, md5 } });
  });

  it('unescapes names md5sum escaped (leading backslash); a backslash is a folder separator (Windows tools write images\\card.E01)', () => {
    expect([...parseHashList(`\\${md5}  images\\\\card.E01`, 'x').keys()]).toEqual(['card.E01']);
    expect([...parseHashList(`${md5}  images\\card.E01`, 'x').keys()]).toEqual(['card.E01']);
  });

  it('refuses what is not a hash line, a length of no algorithm, a BSD name of no algorithm, two different hashes for one name', () => {
    expect(() => parseHashList('hello world', 'a.md5')).toThrow(/a\.md5 line 1: not a hash line/);
    expect(() => parseHashList(`${md5.slice(0, 30)}  card.E01`, 'a.md5')).toThrow(/30 hex digits is no MD5/);
    expect(() => parseHashList(`CRC32 (card.E01) = 12345678`, 'a')).toThrow(/is not MD5, SHA1 or SHA256/);
    expect(() => parseHashList(`MD5 (card.E01) = ${sha1}`, 'a')).toThrow(/40 hex digits/);
    expect(() => parseHashList(`${md5}  card.E01\n${'0'.repeat(32)}  ./card.E01`, 'a', new Map())).toThrow(/line 2: "card.E01" is given two different md5 hashes/);
  });
});
