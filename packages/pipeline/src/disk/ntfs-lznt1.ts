import { ExhibitError } from '@exhibit/core';

/**
 * LZNT1, the compression of NTFS compressed attributes: a compression unit is
 * a sequence of chunks, each a 2-byte header (bit 15: compressed, low 12 bits:
 * chunk size − 3 … − 1) followed by up to 4 KiB of data that expands to 4 KiB.
 * Written from the format's description (MS-XCA 2.5); every back reference
 * and length is checked, so hostile input ends with a typed error, never a
 * read outside the input or a write outside `out`.
 */
export function lznt1Decompress(input: Uint8Array, out: Uint8Array): number {
  let inPos = 0;
  let outPos = 0;
  while (inPos + 2 <= input.length && outPos < out.length) {
    const header = input[inPos]! | (input[inPos + 1]! << 8);
    inPos += 2;
    if (header === 0) break;
    const chunkSize = (header & 0x0fff) + 1;
    const chunkEnd = inPos + chunkSize;
    if (chunkEnd > input.length) throw new ExhibitError('corrupt-file', 'LZNT1: chunk runs past the compressed data');
    const chunkStart = outPos;
    const chunkLimit = Math.min(out.length, chunkStart + 4096);
    if ((header & 0x8000) === 0) {
      const n = Math.min(chunkSize, chunkLimit - outPos);
      out.set(input.subarray(inPos, inPos + n), outPos);
      outPos += n;
      inPos = chunkEnd;
      continue;
    }
    while (inPos < chunkEnd && outPos < chunkLimit) {
      const flags = input[inPos++]!;
      for (let bit = 0; bit < 8 && inPos < chunkEnd && outPos < chunkLimit; bit++) {
        if ((flags & (1 << bit)) === 0) {
          out[outPos++] = input[inPos++]!;
          continue;
        }
        if (inPos + 2 > chunkEnd) throw new ExhibitError('corrupt-file', 'LZNT1: back reference cut short');
        const token = input[inPos]! | (input[inPos + 1]! << 8);
        inPos += 2;
        let lengthBits = 0;
        for (let i = outPos - chunkStart - 1; i >= 0x10; i >>= 1) lengthBits++;
        const back = (token >> (12 - lengthBits)) + 1;
        let length = (token & (0xfff >> lengthBits)) + 3;
        if (back > outPos - chunkStart) throw new ExhibitError('corrupt-file', 'LZNT1: back reference before the chunk');
        length = Math.min(length, chunkLimit - outPos);
        for (let i = 0; i < length; i++, outPos++) out[outPos] = out[outPos - back]!;
      }
    }
    inPos = chunkEnd;
    // A chunk that expands to less than 4 KiB before the end of the unit is followed by zeros.
    if (outPos < chunkLimit && inPos + 2 <= input.length && (input[inPos]! | (input[inPos + 1]! << 8)) !== 0) {
      out.fill(0, outPos, chunkLimit);
      outPos = chunkLimit;
    }
  }
  return outPos;
}
