import type { RandomAccessSource } from '@exhibit/core';

/**
 * TIFF by its header, for TIFFs whose first directory (IFD) lies beyond the
 * bytes file-type was given: file-type follows the IFD offset to tell DNG/ARW
 * from plain TIFF, and a file whose IFD it cannot reach comes out as unknown.
 * Scanners and some cameras write the IFD after the image data, megabytes in.
 *
 * Pure over bytes and bounded: the 8-byte header, then one read of the first
 * IFD (its entry count and at most TIFF_MAX_IFD_ENTRIES entries) at the offset
 * the header gives, checked against the file's size first.
 */

/** More entries than any real first IFD has (exiftool warns past a few hundred). */
export const TIFF_MAX_IFD_ENTRIES = 1024;

export interface TiffHeader {
  bigEndian: boolean;
  bigTiff: boolean;
  /** Offset of the first IFD, as the header records it. */
  ifdOffset: number;
}

/** `II*\0` / `MM\0*` with a 4-byte IFD offset, or BigTIFF (`II+\0` / `MM\0+`, 8-byte offset). */
export function tiffHeader(head: Buffer): TiffHeader | null {
  if (head.length < 8) return null;
  const order = head.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const bigEndian = order === 'MM';
  const version = bigEndian ? head.readUInt16BE(2) : head.readUInt16LE(2);
  if (version === 42) {
    const ifdOffset = bigEndian ? head.readUInt32BE(4) : head.readUInt32LE(4);
    return { bigEndian, bigTiff: false, ifdOffset };
  }
  if (version === 43 && head.length >= 16) {
    const offsetSize = bigEndian ? head.readUInt16BE(4) : head.readUInt16LE(4);
    if (offsetSize !== 8) return null;
    const offset = bigEndian ? head.readBigUInt64BE(8) : head.readBigUInt64LE(8);
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    return { bigEndian, bigTiff: true, ifdOffset: Number(offset) };
  }
  return null;
}

export interface TiffIdentification {
  ext: 'tif' | 'dng' | 'arw';
  mime: string;
}

const DNG_VERSION_TAG = 50706;
const SONY_SR2_PRIVATE_TAG = 50341;

/**
 * The type of a TIFF-structured file from its header and first IFD, or null
 * when the header is not TIFF or the IFD it points at is not a directory
 * inside the file (then it is not a TIFF we can stand behind).
 */
export async function identifyTiff(
  source: RandomAccessSource,
  head: Buffer,
  options: { abortSignal?: AbortSignal } = {},
): Promise<TiffIdentification | null> {
  const header = tiffHeader(head);
  if (!header) return null;
  const { bigEndian, bigTiff, ifdOffset } = header;
  const countSize = bigTiff ? 8 : 2;
  const entrySize = bigTiff ? 20 : 12;
  const headerSize = bigTiff ? 16 : 8;
  if (ifdOffset < headerSize || ifdOffset + countSize > source.size) return null;
  const countBytes = await source.read(ifdOffset, countSize, options);
  if (countBytes.length < countSize) return null;
  const count = bigTiff
    ? Number(bigEndian ? countBytes.readBigUInt64BE(0) : countBytes.readBigUInt64LE(0))
    : bigEndian ? countBytes.readUInt16BE(0) : countBytes.readUInt16LE(0);
  if (count < 1 || count > TIFF_MAX_IFD_ENTRIES) return null;
  const entriesEnd = ifdOffset + countSize + count * entrySize;
  if (entriesEnd > source.size) return null;
  const entries = await source.read(ifdOffset + countSize, count * entrySize, options);
  if (entries.length < count * entrySize) return null;
  let previousTag = -1;
  let result: TiffIdentification = { ext: 'tif', mime: 'image/tiff' };
  for (let i = 0; i < count; i++) {
    const tag = bigEndian ? entries.readUInt16BE(i * entrySize) : entries.readUInt16LE(i * entrySize);
    // Entries are sorted by tag (TIFF 6.0, section 2); random bytes almost never are.
    if (tag <= previousTag) return null;
    previousTag = tag;
    if (tag === DNG_VERSION_TAG) result = { ext: 'dng', mime: 'image/x-adobe-dng' };
    else if (tag === SONY_SR2_PRIVATE_TAG && result.ext === 'tif') result = { ext: 'arw', mime: 'image/x-sony-arw' };
  }
  return result;
}
