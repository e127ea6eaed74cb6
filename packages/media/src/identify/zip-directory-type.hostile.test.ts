import { randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { FileTypeIdentifier } from './file-type.identifier.js';
import { ZIP_TYPE_MAX_MEMBER_BYTES } from './zip-directory-type.js';

/**
 * Hostile central directories for the read behind a ZIP-based document whose
 * [Content_Types].xml lies past the head (zip-directory-type.ts). Each file is
 * written record by record, as a crafted or damaged archive is; every one must
 * stay a plain ZIP (an archive, unpacked), never a document typed from bytes
 * the directory does not truly describe. The first case is the well-formed
 * package from the same builder, so the others fail for their one defect.
 */

const CONTENT_TYPES = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
);

interface Member {
  name: string;
  data: Buffer;
  method?: number;
  size?: number;
  /** The name written in the local header, when it differs from the directory's. */
  localName?: string;
  /** The local-header offset the directory records, when it differs from the real one. */
  recordedLocal?: (real: number) => number;
}

function localHeader(name: string, data: Buffer, method: number, crc: number, size: number): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(method, 8);
  header.writeUInt32LE(crc, 14);
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(size, 22);
  header.writeUInt16LE(Buffer.byteLength(name, 'latin1'), 26);
  return Buffer.concat([header, Buffer.from(name, 'latin1'), data]);
}

function centralRecord(name: string, compressed: number, method: number, crc: number, size: number, local: number): Buffer {
  const record = Buffer.alloc(46);
  record.writeUInt32LE(0x02014b50, 0);
  record.writeUInt16LE(20, 4);
  record.writeUInt16LE(20, 6);
  record.writeUInt16LE(method, 10);
  record.writeUInt32LE(crc, 16);
  record.writeUInt32LE(compressed, 20);
  record.writeUInt32LE(size, 24);
  record.writeUInt16LE(Buffer.byteLength(name, 'latin1'), 28);
  record.writeUInt32LE(local, 42);
  return Buffer.concat([record, Buffer.from(name, 'latin1')]);
}

/** 80 KB of stored media, the package relationships, then the given members; the end record as `end` writes it. */
function zipOf(members: Member[], end: (body: Buffer, directory: Buffer, entries: number) => Buffer = endRecord): Buffer {
  const all: Member[] = [
    { name: 'word/media/image1.png', data: randomBytes(80_000) },
    { name: '_rels/.rels', data: Buffer.from('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>') },
    ...members,
  ];
  const parts: Buffer[] = [];
  const records: Buffer[] = [];
  let at = 0;
  for (const m of all) {
    const method = m.method ?? 0;
    const size = m.size ?? m.data.length;
    const crc = crc32(m.data);
    const local = localHeader(m.localName ?? m.name, m.data, method, crc, size);
    records.push(centralRecord(m.name, m.data.length, method, crc, size, m.recordedLocal ? m.recordedLocal(at) : at));
    parts.push(local);
    at += local.length;
  }
  const body = Buffer.concat(parts);
  const directory = Buffer.concat(records);
  return Buffer.concat([body, directory, end(body, directory, all.length)]);
}

function endRecord(body: Buffer, directory: Buffer, entries: number, overrides: { cdOffset?: number } = {}): Buffer {
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries, 8);
  eocd.writeUInt16LE(entries, 10);
  eocd.writeUInt32LE(directory.length, 12);
  eocd.writeUInt32LE(overrides.cdOffset ?? body.length, 16);
  return eocd;
}

/** A ZIP64 end record and locator, then an end record whose fields say "see ZIP64" (as Info-ZIP writes to a pipe). */
function zip64End(body: Buffer, directory: Buffer, entries: number): Buffer {
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries), 24);
  record.writeBigUInt64LE(BigInt(entries), 32);
  record.writeBigUInt64LE(BigInt(directory.length), 40);
  record.writeBigUInt64LE(BigInt(body.length), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(body.length + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0xffff, 8);
  eocd.writeUInt16LE(0xffff, 10);
  eocd.writeUInt32LE(0xffffffff, 12);
  eocd.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([record, locator, eocd]);
}

const identifier = new FileTypeIdentifier();
const identify = (bytes: Buffer) => identifier.identify(new BufferSource(bytes, 'package.docx'));
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const stillZip = { mime: 'application/zip', detectedExt: 'zip', kind: 'archive' };

describe('hostile central directories behind a late [Content_Types].xml', () => {
  it('a well-formed package from the same builder is a docx (the control)', async () => {
    const zip = zipOf([{ name: '[Content_Types].xml', data: deflateRawSync(CONTENT_TYPES), method: 8, size: CONTENT_TYPES.length }]);
    expect(zip.indexOf('[Content_Types].xml')).toBeGreaterThan(65_536);
    expect(await identify(zip)).toMatchObject({ mime: DOCX, kind: 'document' });
  });

  it('zip-central-directory-offset-past-eof-typed-as-document', async () => {
    const zip = zipOf([{ name: '[Content_Types].xml', data: CONTENT_TYPES }], (body, directory, entries) => endRecord(body, directory, entries, { cdOffset: 0xfffffff0 }));
    expect(await identify(zip)).toMatchObject({ kind: 'archive' });
    expect((await identify(zip)).mime).not.toBe(DOCX);
  });

  it('zip-local-name-not-matching-directory-typed-as-document', async () => {
    const zip = zipOf([{ name: '[Content_Types].xml', data: CONTENT_TYPES, localName: 'word/document.xml' }]);
    expect(await identify(zip)).toMatchObject(stillZip);
  });

  it('zip-member-overlapping-another-typed-as-document', async () => {
    // The directory places [Content_Types].xml inside another member's data, where a crafted file keeps a
    // local header of its choosing (z/overlap.docx in the review): no writer puts one member inside another.
    const planted = localHeader('[Content_Types].xml', CONTENT_TYPES, 0, crc32(CONTENT_TYPES), CONTENT_TYPES.length);
    const carrier = Buffer.concat([Buffer.alloc(1000), planted, randomBytes(1000)]);
    const zip = zipOf([
      { name: 'notes.bin', data: carrier },
      { name: '[Content_Types].xml', data: CONTENT_TYPES, recordedLocal: (real) => real - carrier.length + 1000 }, // notes.bin's data start + 1000: the planted header
    ]);
    expect(await identify(zip)).toMatchObject(stillZip);
  });

  it('zip64-directory-typed-as-document', async () => {
    // The directory's place is in the ZIP64 record: not followed here, the package stays a ZIP (absent, not wrong).
    const zip = zipOf([{ name: '[Content_Types].xml', data: CONTENT_TYPES }], zip64End);
    expect(await identify(zip)).toMatchObject(stillZip);
  });

  it('zip-unsupported-compression-method-typed-as-document', async () => {
    // Method 12 (bzip2) is not inflated here: its bytes are not the member's content.
    const zip = zipOf([{ name: '[Content_Types].xml', data: CONTENT_TYPES, method: 12 }]);
    expect(await identify(zip)).toMatchObject(stillZip);
  });

  it('zip-content-types-over-member-bound-read', async () => {
    const big = Buffer.concat([CONTENT_TYPES.subarray(0, CONTENT_TYPES.length - '</Types>'.length), Buffer.alloc(ZIP_TYPE_MAX_MEMBER_BYTES, 0x20), Buffer.from('</Types>')]);
    const source = new BufferSource(zipOf([{ name: '[Content_Types].xml', data: big }]), 'big.docx');
    expect(await identifier.identify(source)).toMatchObject(stillZip);
  });
});
