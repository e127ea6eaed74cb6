import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/**
 * Writes a raw disk image as a single-segment E01 in the layout ewfacquire
 * (libewf, EnCase 6 format) writes: header2, header2, header, volume,
 * sectors, table, table2, data, digest, hash, done.
 *
 * Why not ewfacquire itself: it records the acquisition and system dates
 * (the clock at the time of the run) and a random set-identifier GUID, so its
 * output differs on every run and the sample would never regenerate byte for
 * byte. Here the dates come from the caller and the GUID from the media's
 * MD5. ewfverify, ewfinfo and The Sleuth Kit (`fls -i ewf`) read the result
 * in test/unit/ewf.writer.test.ts, which is what checks this writer.
 *
 * For the sample generator only: it trusts its input.
 */

export interface EwfHeaderValues {
  caseNumber: string;
  evidenceNumber: string;
  description: string;
  examiner: string;
  notes: string;
  /** Acquisition (and system) date: header2 stores it as Unix seconds, header as the UTC wall clock. */
  acquiredAt: Date;
  /** 'removable' for a memory card (EWF media type 0x00), 'fixed' for a hard disk (0x01). */
  mediaType: 'removable' | 'fixed';
  /** Recorded as the acquiring software version and operating system. */
  software: { version: string; os: string };
}

const SIGNATURE = Buffer.from([0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]);
const DESCRIPTOR_BYTES = 76;
const VOLUME_BYTES = 1052;
export const EWF_SECTOR_BYTES = 512;
export const EWF_SECTORS_PER_CHUNK = 64;
const CHUNK_BYTES = EWF_SECTOR_BYTES * EWF_SECTORS_PER_CHUNK;

/**
 * Adler-32 (RFC 1950), as EWF puts it on descriptors, tables and stored
 * chunks. A zlib stream ends with the Adler-32 of its data (big-endian), so
 * zlib computes it: no second copy of the pipeline reader's checksum code,
 * and libewf checking the result is an independent check of both.
 */
export function adler32(bytes: Uint8Array): number {
  const stream = deflateSync(bytes, { level: 0 });
  return stream.readUInt32BE(stream.length - 4);
}

/** Data followed by its Adler-32, little-endian: how volume, table, digest and hash sections end. */
function withChecksum(data: Buffer): Buffer {
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(adler32(data));
  return Buffer.concat([data, sum]);
}

function headerText(values: EwfHeaderValues, utf16: boolean): Buffer {
  const t = values.acquiredAt;
  const seconds = String(Math.floor(t.getTime() / 1000));
  // header: "YYYY M D H M S" without padding, as libewf writes it (here the UTC wall clock).
  const wallClock = [t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds()].join(' ');
  const v = values;
  for (const text of [v.caseNumber, v.evidenceNumber, v.description, v.examiner, v.notes]) {
    if (/[\t\r\n]/.test(text)) throw new Error(`EWF header values cannot hold tabs or line breaks: ${JSON.stringify(text)}`);
  }
  if (utf16) {
    const body =
      '3\nmain\na\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc\n' +
      `${v.description}\t${v.caseNumber}\t${v.evidenceNumber}\t${v.examiner}\t${v.notes}\t\t\t${v.software.version}\t${v.software.os}\t${seconds}\t${seconds}\t0\t\n\n` +
      'srce\n0\t1\np\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq\n0\t0\n\t\t\t\t\t-1\t-1\t\t\t\n\n' +
      'sub\n0\t1\np\tn\tid\tnu\tco\tgu\n0\t0\n\t\t\t\t1\t\n\n';
    return Buffer.from('\ufeff' + body, 'utf16le');
  }
  for (const text of [v.caseNumber, v.evidenceNumber, v.description, v.examiner, v.notes]) {
    if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`the ASCII header section cannot hold ${JSON.stringify(text)}`);
  }
  return Buffer.from(
    '1\r\nmain\r\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\r\n' +
      `${v.caseNumber}\t${v.evidenceNumber}\t${v.description}\t${v.examiner}\t${v.notes}\t${v.software.version}\t${v.software.os}\t${wallClock}\t${wallClock}\t0\r\n\r\n`,
    'latin1',
  );
}

function volumeData(media: Buffer, chunks: number, mediaType: EwfHeaderValues['mediaType'], guid: Buffer): Buffer {
  const v = Buffer.alloc(VOLUME_BYTES - 4);
  v[0] = mediaType === 'removable' ? 0x00 : 0x01;
  v.writeUInt32LE(chunks, 4);
  v.writeUInt32LE(EWF_SECTORS_PER_CHUNK, 8);
  v.writeUInt32LE(EWF_SECTOR_BYTES, 12);
  v.writeBigUInt64LE(BigInt(media.length / EWF_SECTOR_BYTES), 16);
  v[36] = 0x03; // media flags: an image of a physical device
  v[52] = 0x01; // compression level: fast
  v.writeUInt32LE(EWF_SECTORS_PER_CHUNK, 56); // error granularity
  guid.copy(v, 64);
  return withChecksum(v);
}

/** The E01 bytes for `media` (a whole number of 512-byte sectors). */
export function writeEwf(media: Buffer, values: EwfHeaderValues): Buffer {
  if (media.length === 0 || media.length % EWF_SECTOR_BYTES !== 0) throw new Error(`media of ${media.length} bytes is not a whole number of sectors`);
  const chunkCount = Math.ceil(media.length / CHUNK_BYTES);
  const md5 = createHash('md5').update(media).digest();
  const sha1 = createHash('sha1').update(media).digest();
  // A set identifier that is the same on every run: the media's MD5.
  const guid = md5;

  // Chunks: zlib (level 1, as ewfacquire -c fast) when that is smaller, else stored with an Adler-32.
  const chunks: Array<{ bytes: Buffer; compressed: boolean }> = [];
  for (let i = 0; i < chunkCount; i += 1) {
    const plain = media.subarray(i * CHUNK_BYTES, Math.min((i + 1) * CHUNK_BYTES, media.length));
    const packed = deflateSync(plain, { level: 1 });
    chunks.push(packed.length < plain.length ? { bytes: packed, compressed: true } : { bytes: withChecksum(Buffer.from(plain)), compressed: false });
  }

  const sections: Array<{ type: string; data: Buffer }> = [];
  const h2 = deflateSync(headerText(values, true), { level: 9 });
  sections.push({ type: 'header2', data: h2 }, { type: 'header2', data: h2 });
  sections.push({ type: 'header', data: deflateSync(headerText(values, false), { level: 9 }) });
  const volume = volumeData(media, chunkCount, values.mediaType, guid);
  sections.push({ type: 'volume', data: volume });
  sections.push({ type: 'sectors', data: Buffer.concat(chunks.map((c) => c.bytes)) });
  // The table's offsets count from the sectors section's descriptor (the table base).
  const entries = Buffer.alloc(chunkCount * 4);
  let at = DESCRIPTOR_BYTES;
  chunks.forEach((c, i) => {
    if (at > 0x7fffffff) throw new Error('sectors section too large for one table');
    entries.writeUInt32LE(((c.compressed ? 0x80000000 : 0) | at) >>> 0, i * 4);
    at += c.bytes.length;
  });
  const tableIndex = sections.length; // the sectors section is the one before
  sections.push({ type: 'table', data: Buffer.alloc(0) }, { type: 'table2', data: Buffer.alloc(0) });
  sections.push({ type: 'data', data: volume });
  sections.push({ type: 'digest', data: withChecksum(Buffer.concat([md5, sha1, Buffer.alloc(40)])) });
  sections.push({ type: 'hash', data: withChecksum(Buffer.concat([md5, Buffer.alloc(16)])) });

  // Section offsets: the table needs the sectors section's offset, known once the sizes before it are.
  const tableData = (base: number) => {
    const head = Buffer.alloc(20);
    head.writeUInt32LE(chunkCount, 0);
    head.writeBigUInt64LE(BigInt(base), 8);
    return Buffer.concat([withChecksum(head), withChecksum(entries)]);
  };
  let offset = SIGNATURE.length + 5;
  const offsets: number[] = [];
  for (const [i, s] of sections.entries()) {
    if (i === tableIndex || i === tableIndex + 1) s.data = tableData(offsets[tableIndex - 1]!);
    offsets.push(offset);
    offset += DESCRIPTOR_BYTES + s.data.length;
  }
  const parts: Buffer[] = [SIGNATURE, Buffer.from([0x01, 0x01, 0x00, 0x00, 0x00])]; // fields start, segment 1, fields end
  const descriptor = (type: string, next: number, size: number) => {
    const d = Buffer.alloc(DESCRIPTOR_BYTES);
    d.write(type, 0, 'latin1');
    d.writeBigUInt64LE(BigInt(next), 16);
    d.writeBigUInt64LE(BigInt(size), 24);
    d.writeUInt32LE(adler32(d.subarray(0, 72)), 72);
    return d;
  };
  for (const [i, s] of sections.entries()) {
    const size = DESCRIPTOR_BYTES + s.data.length;
    parts.push(descriptor(s.type, offsets[i]! + size, size), s.data);
  }
  // done: the last section points at itself, with size 0 (as libewf writes it).
  parts.push(descriptor('done', offset, 0));
  return Buffer.concat(parts);
}
