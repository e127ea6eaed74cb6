import { describe, expect, it } from 'vitest';
import { oemNameOrEscaped, utf8NameOrEscaped } from './name-bytes.js';

describe('names stored as bytes', () => {
  it('valid UTF-8 is decoded; each other byte is U+DC00 + byte, and decoding resumes after it', () => {
    expect(utf8NameOrEscaped(Buffer.from('ok é 名.txt'))).toBe('ok é 名.txt');
    expect(utf8NameOrEscaped(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74]))).toBe('caf\udce9.t');
    // An overlong '/', an encoded surrogate and a truncated sequence are not UTF-8: every byte kept.
    expect(utf8NameOrEscaped(Buffer.from([0xc0, 0xaf]))).toBe('\udcc0\udcaf');
    expect(utf8NameOrEscaped(Buffer.from([0xed, 0xa0, 0x80]))).toBe('\udced\udca0\udc80');
    expect(utf8NameOrEscaped(Buffer.from([0x61, 0xe6, 0x97]))).toBe('a\udce6\udc97');
    expect(utf8NameOrEscaped(Buffer.from([0xe9, 0xc3, 0xa9]))).toBe('\udce9é');
  });

  it('an OEM name keeps ASCII and escapes every byte above 0x7F', () => {
    expect(oemNameOrEscaped(Buffer.from([0x90, 0x54, 0x90, 0x20]))).toBe('\udc90T\udc90 ');
  });
});
