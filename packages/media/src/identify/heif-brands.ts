/**
 * HEIF still images by their `ftyp` brands (ISO/IEC 23008-12). file-type
 * decides by the major brand alone and calls every other ISO-BMFF file
 * `video/mp4`; cameras do not all put a HEIF brand first (Canon and Sony
 * `.HIF` use `heix` with `mif1`/`miaf`/`MiHB`, others `mif1` or `miaf` with
 * `heic` among the compatible brands), and exifr looked only for `heic` in a
 * short `ftyp`. One list, used by identification, metadata and thumbnails.
 */

/** HEVC-coded HEIF images and sequences, and the generic image/sequence brands. */
export const HEIF_BRANDS: ReadonlySet<string> = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1', 'mif2', 'miaf']);
/** Brands that make a HEIF a sequence (burst, animation) rather than one still image. */
const SEQUENCE_BRANDS: ReadonlySet<string> = new Set(['msf1', 'hevc', 'hevx', 'hevm', 'hevs']);
/** Brands that make an ISO-BMFF file a movie first (a HEIF brand among them does not make it a photo). */
const VIDEO_BRANDS: ReadonlySet<string> = new Set(['isom', 'iso2', 'mp41', 'mp42', 'avc1', 'qt  ', 'M4V ', '3gp4', '3gp5', '3gp6', 'dash']);
/** AV1 image brands: AVIF, left to file-type. */
const AVIF_BRANDS: ReadonlySet<string> = new Set(['avif', 'avis']);

/** Longest `ftyp` box read (a real one lists a handful of brands). */
export const MAX_FTYP_BYTES = 4096;

export interface FtypBrands {
  major: string;
  compatible: string[];
}

/** The brands of a leading `ftyp` box, or null if the bytes do not start with one. */
export function ftypBrands(head: Buffer): FtypBrands | null {
  if (head.length < 16 || head.toString('latin1', 4, 8) !== 'ftyp') return null;
  const size = head.readUInt32BE(0);
  if (size < 16 || size > MAX_FTYP_BYTES || size > head.length || size % 4 !== 0) return null;
  const major = head.toString('latin1', 8, 12);
  const compatible: string[] = [];
  for (let o = 16; o + 4 <= size; o += 4) compatible.push(head.toString('latin1', o, o + 4));
  return { major, compatible };
}

export interface HeifIdentification {
  ext: 'heic';
  mime: 'image/heic' | 'image/heif' | 'image/heic-sequence' | 'image/heif-sequence';
}

/**
 * The HEIF type of a file whose `ftyp` names a HEIF image brand (major or
 * compatible) and no movie brand; null otherwise (including AVIF, which
 * file-type already names).
 */
export function heifFromBrands(head: Buffer): HeifIdentification | null {
  const brands = ftypBrands(head);
  if (!brands) return null;
  const all = [brands.major, ...brands.compatible];
  if (all.some((b) => AVIF_BRANDS.has(b)) && !HEIF_BRANDS.has(brands.major)) return null;
  if (!all.some((b) => HEIF_BRANDS.has(b))) return null;
  if (VIDEO_BRANDS.has(brands.major)) return null;
  const hevc = all.some((b) => b.startsWith('he'));
  const sequence = SEQUENCE_BRANDS.has(brands.major) || (!HEIF_BRANDS.has(brands.major) && all.every((b) => !HEIF_BRANDS.has(b) || SEQUENCE_BRANDS.has(b)));
  if (sequence) return { ext: 'heic', mime: hevc ? 'image/heic-sequence' : 'image/heif-sequence' };
  return { ext: 'heic', mime: hevc ? 'image/heic' : 'image/heif' };
}

/** True when the bytes start with an `ftyp` naming any HEIF brand and not AVIF first (for the decoders). */
export function hasHeifBrand(head: Buffer): boolean {
  const brands = ftypBrands(head);
  if (!brands || AVIF_BRANDS.has(brands.major)) return false;
  return [brands.major, ...brands.compatible].some((b) => HEIF_BRANDS.has(b));
}
