/**
 * Second looks at what file-type decides from a signature of one or two
 * bytes. Those signatures are common in other data, and a type they give
 * would be a wrong value: a UTF-16 text file's byte-order mark (FF FE) is an
 * MPEG audio frame sync to file-type ('mp1'), any file with 'G' at bytes 0 and
 * 188 an MPEG transport stream, any file starting 00 01 00 00 00 a TrueType
 * font. Each check below asks for the structure that follows the signature in
 * a real file, in the head already read; a type that fails it is dropped
 * (the later checks, such as plain text, then have their say), so the value is
 * absent rather than wrong.
 *
 * Pure over the head; bounded by it (and by the few frames or packets looked at).
 */

export interface SignatureType {
  ext: string;
  mime: string;
}

/** Whether `found`, as file-type gave it for `head` (of a file of `size` bytes), has the structure its signature promises. */
export function confirmedByStructure(found: SignatureType, head: Buffer, size: number): boolean {
  switch (found.ext) {
    case 'mp1':
    case 'mp2':
    case 'mp3':
    case 'aac':
      // After an ID3 tag file-type has already seen a real tag: the frames are past it, trust it.
      return head.toString('latin1', 0, 3) === 'ID3' || mpegAudioFramesFollow(head, size);
    case 'mts':
      return transportStreamPackets(head, size);
    case 'ttf':
      return sfntTableDirectory(head);
    default:
      return true;
  }
}

/** Frames after the first that must follow one another (fewer when the file ends exactly after a frame). */
const MPEG_FRAMES_CHECKED = 3;

/**
 * MPEG audio (Layer I-III) or ADTS AAC: frame headers that give a valid
 * frame length, each frame followed by the next frame's sync with the same
 * version, layer and sampling rate, for MPEG_FRAMES_CHECKED frames or until
 * the file ends exactly at a frame's end. Free-format streams (bitrate index
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
    if (!frame || frame.key !== first.key) return false;
  }
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
