import type { RandomAccessSource } from '@exhibit/core';
import { plainText } from './text-sniff.js';

/**
 * Second looks at what file-type decides from a signature of a few bytes.
 * Those signatures are common in other data, and a type they give would be a
 * wrong value: a UTF-16 text file's byte-order mark (FF FE) is an MPEG audio
 * frame sync to file-type ('mp1'), any file with 'G' at bytes 0 and 188 an
 * MPEG transport stream, any file starting 00 01 00 00 00 a TrueType font, a
 * note starting "BMW" a BMP image, "GIF" a GIF, "MZ" a Windows executable,
 * "ID3" an MP3, "SQLite for…" a database, "PARENT" a Parquet file, a script
 * with "free" at byte 4 a QuickTime movie, and any zlib stream (78 01: git objects, app caches) an Apple
 * disk image. Each check below asks for the structure that follows the
 * signature in a real file; a type that fails it is dropped (the later checks,
 * such as plain text, then have their say), so the value is absent rather
 * than wrong.
 *
 * Bounded: the head already read, and one 4-byte read at the end for a disk image or Parquet file.
 */

export interface SignatureType {
  ext: string;
  mime: string;
}

/**
 * Types file-type names that may be plain text from their first byte on (a
 * PDF without its binary comment line, PostScript, XML, RTF, calendar and
 * contact cards, WebVTT, ASCII armour, ASCII STL, a .reg export, a Unix `ar`
 * archive, whose headers are text and whose members may be, and an AMR
 * recording of no-data frames: '#!AMR\n' then '|' bytes, a recorder left
 * running in silence; libmagic: audio/amr).
 */
const TEXT_FORMATS: ReadonlySet<string> = new Set(['pdf', 'ps', 'eps', 'xml', 'rtf', 'ics', 'vcf', 'vtt', 'pgp', 'stl', 'reg', 'ar', 'amr']);

/** Whether `found`, as file-type gave it for `head`, has the structure its signature promises. */
export async function confirmedByStructure(found: SignatureType, head: Buffer, source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
  // Every other type file-type names is binary: its header holds NUL or other control bytes, or bytes
  // that are not UTF-8. A head that is plain text is a note or a script that starts with a signature's
  // letters ('BMW…' is no BMP, 'SQLite for Debian' no database, 'var freeGlobal' no QuickTime movie,
  // 'ustar' at 257 of a note no tar, 'MAC Address,…' no Monkey's Audio).
  if (!TEXT_FORMATS.has(found.ext) && plainText(head) !== null) return false;
  switch (found.ext) {
    case 'mp1':
    case 'mp2':
    case 'mp3':
    case 'aac':
      // After an ID3v2 tag file-type has read the tag's header: the frames are past it.
      return id3v2Header(head) || mpegAudioFramesFollow(head, source.size);
    case 'mts':
      return transportStreamPackets(head, source.size);
    case 'ttf':
      return sfntTableDirectory(head);
    case 'bmp':
      return bmpHeaders(head);
    case 'gif':
      return /^GIF8[79]a$/.test(head.toString('latin1', 0, 6));
    case 'ico':
    case 'cur':
      return iconDirectory(head, found.ext === 'ico');
    case 'sqlite':
      return head.toString('latin1', 0, 16) === 'SQLite format 3\0';
    case 'parquet':
      return parquetFooterMagic(head, source, options);
    case 'mov':
      return quickTimeFirstAtom(head, source.size);
    case 'bz2':
      return bzip2Stream(head);
    case 'dmg':
      return udifTrailer(source, options);
    default:
      return true;
  }
}

/** An ID3v2 header: 'ID3', major version 2-4, and a four-byte sync-safe size (each byte below 0x80). */
export function id3v2Header(head: Buffer): boolean {
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3') return false;
  const major = head[3]!;
  if (major < 2 || major > 4 || head[4] === 0xff) return false;
  for (let i = 6; i < 10; i++) if (head[i]! >= 0x80) return false;
  return true;
}

/** DIB header sizes of the BMP versions (core/OS2 v1, OS/2 v2 short and long, v3 (INFO), v3 with masks, v4, v5). */
const DIB_HEADER_SIZES: ReadonlySet<number> = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

/** A BMP's file header and the size of the DIB header after it, one of the known versions. */
export function bmpHeaders(head: Buffer): boolean {
  if (head.length < 18) return false;
  return DIB_HEADER_SIZES.has(head.readUInt32LE(14)) && head.readUInt32LE(10) >= 14 + 12;
}

/** Most images an icon directory lists (real ones hold a handful of sizes). */
const ICON_MAX_IMAGES = 256;

/**
 * An ICO/CUR directory after its 00 00 01|02 00 header: one or more entries,
 * each with image bytes that start after the directory; for an icon (not a
 * cursor, whose fields there are the hotspot) 0 or 1 colour planes and a
 * valid bit depth. Any binary data that starts with the little-endian number
 * 65,536 or 131,072 has file-type's signature.
 */
export function iconDirectory(head: Buffer, icon: boolean): boolean {
  if (head.length < 6) return false;
  const images = head.readUInt16LE(4);
  const directoryEnd = 6 + 16 * images;
  if (images < 1 || images > ICON_MAX_IMAGES || directoryEnd > head.length) return false;
  for (let i = 0; i < images; i++) {
    const at = 6 + 16 * i;
    if (head.readUInt32LE(at + 8) === 0 || head.readUInt32LE(at + 12) < directoryEnd) return false;
    if (icon && (head.readUInt16LE(at + 4) > 1 || ![0, 1, 2, 4, 8, 16, 24, 32].includes(head.readUInt16LE(at + 6)))) return false;
  }
  return true;
}

/** bzip2: 'BZh', a block size '1'-'9', then a block's magic (BCD pi) or the end-of-stream magic (sqrt pi) of an empty stream. */
export function bzip2Stream(head: Buffer): boolean {
  if (head.length < 10 || head[3]! < 0x31 || head[3]! > 0x39) return false;
  const magic = head.toString('hex', 4, 10);
  return magic === '314159265359' || magic === '177245385090';
}

/** Apache Parquet: 'PAR1' (or 'PARE', encrypted footer) at the start and again as the file's last four bytes. */
async function parquetFooterMagic(head: Buffer, source: RandomAccessSource, options: { abortSignal?: AbortSignal }): Promise<boolean> {
  if (source.size < 12) return false;
  const start = head.toString('latin1', 0, 4);
  const end = (await source.read(source.size - 4, 4, options)).toString('latin1');
  return (start === 'PAR1' || start === 'PARE') && end === start;
}

/**
 * A QuickTime movie without `ftyp` (file-type takes `free`, `mdat`, `moov` or
 * `wide` at byte 4): the first atom's size must be one an atom can have, 0
 * (to the end), 1 (a 64-bit size follows) or 8 up to the file's size. Only an
 * `mdat` or `moov` may be larger than what is left: a carved or truncated movie
 * (a recovered `mdat` cut short) is still a movie to libmagic and exiftool.
 * A `free`/`wide` atom first is a small padding atom before the movie's data;
 * four random bytes before 'free' (or a length-prefixed message) are no movie.
 */
export function quickTimeFirstAtom(head: Buffer, size: number): boolean {
  if (head.length < 8) return false;
  const type = head.toString('latin1', 4, 8);
  if (type === 'ftyp') return true;
  const atom = head.readUInt32BE(0);
  if (atom === 0 || atom === 1) return true;
  return atom >= 8 && (atom <= size || type === 'mdat' || type === 'moov');
}

/** An Apple disk image (UDIF) ends with a 512-byte 'koly' trailer; file-type's 78 01 is only a zlib stream's first two bytes. */
async function udifTrailer(source: RandomAccessSource, options: { abortSignal?: AbortSignal }): Promise<boolean> {
  if (source.size < 512) return false;
  const trailer = await source.read(source.size - 512, 4, options);
  return trailer.toString('latin1') === 'koly';
}

/** Frames after the first that must follow one another (fewer when the file ends exactly after a frame). */
const MPEG_FRAMES_CHECKED = 3;

/**
 * MPEG audio (Layer I-III) or ADTS AAC: frame headers that give a valid
 * frame length, each frame followed by the next frame's sync with the same
 * version, layer and sampling rate, for MPEG_FRAMES_CHECKED frames or until
 * the file ends exactly at a frame's end or, once a second frame has
 * followed, at a tag or padding (mpegAudioTail). Free-format streams (bitrate index
 * 0) have no frame length in the header and are not confirmed.
 */
export function mpegAudioFramesFollow(head: Buffer, size: number): boolean {
  const first = mpegFrame(head, 0);
  if (!first) return false;
  let at = 0;
  let frame: MpegFrame | null = first;
  for (let i = 0; i < MPEG_FRAMES_CHECKED; i++) {
    at += frame.length;
    if (at === size) return true;
    if (at + 7 > head.length) return i > 0;
    frame = mpegFrame(head, at);
    // A short recording (a voice prompt, a clip cut by an app) ends with a tag or padding after two or three frames.
    if (!frame) return i > 0 && mpegAudioTail(head, at, size);
    if (frame.key !== first.key) return false;
  }
  return true;
}

/**
 * What MP3 writers put after the last frame: an ID3v1 tag ('TAG', in the file's
 * last 128 bytes), an APE tag ('APETAGEX'), a Lyrics3v2 block ('LYRICSBEGIN',
 * ending 'LYRICS200' before the ID3v1 tag), or zero padding to the end of
 * what was read. Taken only after at least one frame has followed the first.
 */
function mpegAudioTail(head: Buffer, at: number, size: number): boolean {
  // ID3v1 is 128 bytes at the very end; writers that get it short (126, 127 bytes) still end the file with it.
  if (head.toString('latin1', at, at + 3) === 'TAG' && size - at <= 128) return true;
  if (head.toString('latin1', at, at + 8) === 'APETAGEX' || head.toString('latin1', at, at + 11) === 'LYRICSBEGIN') return true;
  for (let i = at; i < head.length; i++) if (head[i] !== 0) return false;
  return true;
}

interface MpegFrame {
  length: number;
  /** What stays the same from frame to frame: version, layer, sampling rate. */
  key: string;
}

const BITRATES_KBPS: Record<string, readonly number[]> = {
  'v1-l1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  'v1-l2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  'v1-l3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  'v2-l1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  'v2-l2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

function mpegFrame(b: Buffer, at: number): MpegFrame | null {
  if (at + 7 > b.length || b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (b[at + 1]! >> 3) & 0x03; // 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5, 1 reserved
  const layer = (b[at + 1]! >> 1) & 0x03; // 3 Layer I, 2 Layer II, 1 Layer III, 0 ADTS
  if (layer === 0) {
    // ADTS (ISO/IEC 13818-7): 12-bit sync, so the version bit's partner must be set too.
    if ((b[at + 1]! & 0xf0) !== 0xf0) return null;
    const rateIndex = (b[at + 2]! >> 2) & 0x0f;
    if (rateIndex > 12) return null;
    const headerBytes = b[at + 1]! & 0x01 ? 7 : 9;
    const length = ((b[at + 3]! & 0x03) << 11) | (b[at + 4]! << 3) | (b[at + 5]! >> 5);
    if (length < headerBytes) return null;
    return { length, key: `adts-${b[at + 1]! & 0x08}-${rateIndex}` };
  }
  if (version === 1) return null;
  const bitrateIndex = b[at + 2]! >> 4;
  const rateIndex = (b[at + 2]! >> 2) & 0x03;
  if (bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const layerNumber = 4 - layer;
  const table = version === 3 ? `v1-l${layerNumber}` : layerNumber === 1 ? 'v2-l1' : 'v2-l2';
  const bitrate = BITRATES_KBPS[table]![bitrateIndex]! * 1000;
  const sampleRate = SAMPLE_RATES[version]![rateIndex]!;
  const padding = (b[at + 2]! >> 1) & 0x01;
  const length =
    layerNumber === 1
      ? (Math.floor((12 * bitrate) / sampleRate) + padding) * 4
      : Math.floor(((layerNumber === 3 && version !== 3 ? 72 : 144) * bitrate) / sampleRate) + padding;
  return { length, key: `${version}-${layer}-${rateIndex}` };
}

/** Transport-stream packets checked for their sync byte (the first file-type checked was 2). */
const TS_PACKETS_CHECKED = 16;

/**
 * An MPEG transport stream: the sync byte 0x47 at the start of every 188-byte
 * packet (or 192-byte BDAV/AVCHD packet, after its 4-byte time code), for
 * TS_PACKETS_CHECKED packets or as many as the file holds.
 */
export function transportStreamPackets(head: Buffer, size: number): boolean {
  const runs = (stride: number, first: number) => {
    let packets = 0;
    for (let at = first; packets < TS_PACKETS_CHECKED && at + stride - first <= Math.min(head.length, size); at += stride) {
      if (head[at] !== 0x47) return false;
      packets++;
    }
    return packets >= 2;
  };
  return runs(188, 0) || runs(192, 4);
}

/** More tables than any font has (the OpenType registry lists a few dozen). */
const SFNT_MAX_TABLES = 256;

/**
 * A TrueType/OpenType table directory after the sfnt version: a table count
 * of at least one, and that many 16-byte records whose tags are four
 * printable ASCII characters and whose data starts after the directory.
 */
export function sfntTableDirectory(head: Buffer): boolean {
  if (head.length < 12) return false;
  const tables = head.readUInt16BE(4);
  if (tables < 1 || tables > SFNT_MAX_TABLES) return false;
  const directoryEnd = 12 + 16 * tables;
  if (directoryEnd > head.length) return false;
  for (let i = 0; i < tables; i++) {
    const at = 12 + 16 * i;
    for (let c = 0; c < 4; c++) {
      const ch = head[at + c]!;
      if (ch < 0x20 || ch > 0x7e) return false;
    }
    if (head.readUInt32BE(at + 8) < directoryEnd) return false;
  }
  return true;
}
