import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg } from '../test-support/fixtures.js';
import { storedZipArchive, tiffWithIfdBeyond4KiB, unknownBinary } from '../test-support/formats.fixtures.js';
import { storedLocalEntry } from '../test-support/zip-records.js';
import { FileTypeIdentifier } from './file-type.identifier.js';
import { heifFromBrands } from './heif-brands.js';
import { imageEnd, MAX_IMAGE_END_STEPS, trailingDataFinding, zipDirectoryAtEnd } from './polyglot.js';

/**
 * Identification that does not give up at 4 KiB. Each case failed on the
 * identifier that looked at the first 4100 bytes only: a TIFF whose first
 * directory lies further in came out as mime null, with no finding; a ZIP
 * appended to a photo, or after a long prefix, went unnoticed.
 */
describe('identification regressions', () => {
  const identifier = new FileTypeIdentifier();

  it('identifies a TIFF whose first IFD lies beyond 4 KiB, reading only the head and that IFD', async () => {
    const tiff = tiffWithIfdBeyond4KiB();
    const ifdOffset = tiff.readUInt32LE(4);
    expect(ifdOffset).toBeGreaterThan(4100);
    const source = new BufferSource(tiff, 'SCAN0001.TIF');
    expect(await identifier.identify(source)).toEqual({ mime: 'image/tiff', detectedExt: 'tif', kind: 'image', findings: [] });
    // Bounded: the head, the IFD's count and entries, the tail; nothing in between read twice.
    expect(source.bytesRead).toBeLessThanOrEqual(Math.min(tiff.length, LIMITS.identifyHeadBytes) + 2 + 64 * 12 + LIMITS.identifyTailBytes);
  });

  it('identifies a TIFF whose IFD is megabytes in without reading the image data', async () => {
    const tiff = tiffWithIfdBeyond4KiB(1200, 1000); // 3.6 MB of pixels before the IFD
    const source = new BufferSource(tiff, 'scan.tif');
    expect(await identifier.identify(source)).toMatchObject({ mime: 'image/tiff', kind: 'image', findings: [] });
    expect(source.bytesRead).toBeLessThan(LIMITS.identifyHeadBytes + LIMITS.identifyTailBytes + 1024);
  });

  it('does not call bytes a TIFF when the IFD the header points at is not a directory', async () => {
    // The header's IFD offset lies beyond the head: past the end of the file, then on bytes that are no directory.
    for (const ifdOffset of [10_000_000, 80_000]) {
      const offset = Buffer.alloc(4);
      offset.writeUInt32LE(ifdOffset, 0);
      const fake = Buffer.concat([Buffer.from('II*\0', 'latin1'), offset, unknownBinary(100_000)]);
      const id = await identifier.identify(new BufferSource(fake));
      expect(id, `IFD at ${ifdOffset}`).toMatchObject({ mime: null, kind: 'other' });
      expect(id.findings.map((f) => f.flag)).toEqual(['unidentified']);
    }
  });

  it('makes unidentified a finding with the reason, never a silent mime null', async () => {
    const id = await identifier.identify(new BufferSource(unknownBinary(100_000)));
    expect(id).toEqual({
      mime: null,
      detectedExt: null,
      kind: 'other',
      findings: [{ flag: 'unidentified', detail: `no known file signature in the first ${LIMITS.identifyHeadBytes} bytes (nor a TIFF header, a HEIF brand or plain text)` }],
    });
  });

  it('finds a ZIP appended to a JPEG (a polyglot) and says where it starts', async () => {
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#345' } }).jpeg().toBuffer();
    const zip = storedZipArchive('secret.txt', Buffer.from('hidden in plain sight'));
    const polyglot = Buffer.concat([jpeg, zip]);
    const id = await identifier.identify(new BufferSource(polyglot, 'IMG_0042.JPG'));
    expect(id).toMatchObject({ mime: 'image/jpeg', kind: 'image' });
    expect(id.findings).toEqual([
      {
        flag: 'embedded-archive',
        detail: `a ZIP archive (1 entries) ends a .jpg file: its directory record is at byte ${polyglot.length - 22}, it starts at byte ${jpeg.length}`,
      },
    ]);
    // The plain JPEG has no such finding.
    expect((await identifier.identify(new BufferSource(jpeg))).findings).toEqual([]);
  });

  it('identifies a ZIP after a 1 MiB prefix as a ZIP, with the prefix a finding, reading only the head and the tail', async () => {
    const prefix = unknownBinary(1024 * 1024);
    const zip = storedZipArchive('DCIM/IMG_0001.JPG', Buffer.from('not really a photo'));
    const blob = Buffer.concat([prefix, zip]);
    const source = new BufferSource(blob, 'carved.bin');
    const id = await identifier.identify(source);
    // Nothing else is known about the bytes: a ZIP (unpacked as one), found after its prefix.
    expect(id).toMatchObject({ mime: 'application/zip', detectedExt: 'zip', kind: 'archive' });
    expect(id.findings).toEqual([
      {
        flag: 'embedded-archive',
        detail: `a ZIP archive (1 entries) ends a file of unknown type: its directory record is at byte ${blob.length - 22}, it starts at byte ${prefix.length}`,
      },
    ]);
    expect(source.bytesRead).toBeLessThanOrEqual(LIMITS.identifyHeadBytes + LIMITS.identifyTailBytes);
  });

  // `cat stub a.zip > sfx.exe` (no zip -A), then bytes appended (a signature): unzip and Python's zipfile read the
  // archive; identification looked only for a record ending the file, so it had no embedded-archive finding. The
  // finding only: the file's type stays what it is, unknown included (cpio-ending-in-zip-identified-as-zip).
  it('zip-sfx-trailing-bytes-hide-embedded-archive: a ZIP with bytes after it is found, a finding only', async () => {
    const zip = storedZipArchive('setup.ini', Buffer.from('[setup]'));
    const tail = Buffer.from('APPENDED SIGNATURE');
    const prefix = unknownBinary(5000);
    const carved = Buffer.concat([prefix, zip, tail]);
    const source = new BufferSource(carved, 'carved.bin');
    const id = await identifier.identify(source);
    expect(id).toMatchObject({ mime: null, detectedExt: null });
    expect(id.findings).toEqual([
      expect.objectContaining({ flag: 'unidentified' }),
      {
        flag: 'embedded-archive',
        detail: `a ZIP archive (1 entries) is in a file of unknown type, ${tail.length} bytes after it: its directory record is at byte ${carved.length - tail.length - 22}, it starts at byte ${prefix.length}`,
      },
    ]);
    expect(source.bytesRead).toBeLessThanOrEqual(LIMITS.identifyHeadBytes + LIMITS.identifyTailBytes);
    // A PE stub: an .exe (not unpacked, as with no bytes after), the archive in it a finding.
    const exe = Buffer.concat([Buffer.from('MZ'), prefix.subarray(2), zip, tail]);
    const sfx = await identifier.identify(new BufferSource(exe, 'setup.exe'));
    expect(sfx).toMatchObject({ detectedExt: 'exe' });
    expect(sfx.findings.map((f) => f.flag)).toEqual(['embedded-archive']);
  });

  // With ZIP64 end records (a streaming writer's, zip -fz): the archive is placed by its ZIP64 record, as at the end.
  it('zip-sfx-trailing-bytes-hide-embedded-archive: ZIP64 end records before the record, bytes after', async () => {
    const zip = storedZipArchive('setup.ini', Buffer.from('[setup]'));
    const eocd = zip.length - 22;
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(1n, 24);
    record.writeBigUInt64LE(1n, 32);
    record.writeBigUInt64LE(BigInt(zip.readUInt32LE(eocd + 12)), 40);
    record.writeBigUInt64LE(BigInt(zip.readUInt32LE(eocd + 16)), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(eocd), 8);
    locator.writeUInt32LE(1, 16);
    const zip64 = Buffer.concat([zip.subarray(0, eocd), record, locator, zip.subarray(eocd)]);
    const prefix = unknownBinary(3000);
    const id = await identifier.identify(new BufferSource(Buffer.concat([prefix, zip64, Buffer.from('APPENDED')]), 'carved.bin'));
    expect(id).toMatchObject({ mime: null });
    expect(id.findings[1]?.detail).toMatch(new RegExp(`, 8 bytes after it: .* it starts at byte ${prefix.length}$`));
  });

  // Without an anchor at the file's end, a stray record is not enough: bytes after it holding a ZIP record (an outer
  // archive's directory after a stored ZIP), a record whose directory is no central header, or a lone signature.
  it('zip-sfx-trailing-bytes-hide-embedded-archive: no finding for a record that bytes with ZIP records follow, or no directory', async () => {
    const zip = storedZipArchive('setup.ini', Buffer.from('[setup]'));
    const prefix = unknownBinary(5000);
    const withRecordAfter = Buffer.concat([prefix, zip, Buffer.from('junk PK\x01\x02 junk', 'latin1')]);
    const noDirectory = Buffer.from(Buffer.concat([prefix, zip, Buffer.from('APPENDED')]));
    noDirectory.writeUInt32LE(0, prefix.length + zip.length - 22 - noDirectory.readUInt32LE(prefix.length + zip.length - 22 + 12));
    const lone = Buffer.concat([prefix, Buffer.from('PK\x05\x06', 'latin1'), unknownBinary(40)]);
    for (const bytes of [withRecordAfter, noDirectory, lone]) {
      const id = await identifier.identify(new BufferSource(bytes, 'x.bin'));
      expect(id.mime).toBeNull();
      expect(id.findings.map((f) => f.flag)).toEqual(['unidentified']);
    }
  });

  // A ZIP with bytes after it is what many containers hold as their last part: a newc cpio whose last member is a .zip
  // (its trailer and padding after), a made-up package format (header, ZIP, index). Main left them unidentified; the
  // branch called them application/zip, and unpack then listed only the embedded ZIP's members as the file's own.
  it('cpio-ending-in-zip-identified-as-zip: a ZIP with bytes after it is a finding, never the file\'s type', async () => {
    const zip = storedZipArchive('secret.txt', Buffer.from('secret '.repeat(20)));
    const newc = (name: string, data: Buffer) => {
      const nameBytes = Buffer.from(`${name}\0`);
      const fields = [1, 0o100644, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0].map((v) => v.toString(16).toUpperCase().padStart(8, '0'));
      const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
      return Buffer.concat([pad(Buffer.concat([Buffer.from(`070701${fields.join('')}`), nameBytes])), pad(data)]);
    };
    const cpio = Buffer.concat([newc('readme.txt', Buffer.from('hello\n')), newc('bundle.zip', zip), newc('TRAILER!!!', Buffer.alloc(0))]);
    const padded = Buffer.concat([cpio, Buffer.alloc((512 - (cpio.length % 512)) % 512)]);
    const index = Buffer.alloc(44);
    index.write('IDX', 0);
    const pak = Buffer.concat([Buffer.from('MYPAK\0\x01\0', 'latin1'), unknownBinary(3000), zip, index]);
    for (const [name, bytes] of [['archive.cpio', padded], ['custom-pak.bin', pak]] as const) {
      const id = await identifier.identify(new BufferSource(bytes, name));
      expect(id.mime, name).not.toBe('application/zip');
      expect(id.detectedExt, name).not.toBe('zip');
      expect(id.findings.map((f) => f.flag), name).toContain('embedded-archive');
    }
  });

  // Identification's check of a ZIP with bytes after it differed from the unpack's: a ZIP64 end record whose directory
  // was never checked (none there; its offset plus size not where the record lies) was called a ZIP that unpack failed
  // corrupt-file; a ZIP stored in a member of a cut outer ZIP (the unpack refuses it) was told of as an archive.
  it('identify-zip64-without-directory-disagrees-with-unpack: no embedded-archive finding where the reader refuses', async () => {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(1n, 24);
    record.writeBigUInt64LE(1n, 32);
    const prefix = unknownBinary(3000);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(100n, 8);
    locator.writeUInt32LE(1, 16);
    const eocd = Buffer.alloc(22, 0xff);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt32LE(0, 4);
    eocd.writeUInt16LE(0, 20);
    const noDirectory = Buffer.concat([prefix, record, locator, eocd, Buffer.from('TAIL')]);
    // Bytes in front, then an outer ZIP cut 3 bytes after a ZIP stored as its member's data.
    const inner = storedZipArchive('INNER-ONLY.txt', Buffer.from('inner member'));
    const cutOuter = Buffer.concat([Buffer.alloc(800, 'JUNK'), storedLocalEntry('inner.zip', inner), Buffer.from('PK\x01', 'latin1')]);
    for (const [label, bytes] of [['zip64 without directory', noDirectory], ['stored inner of a cut outer', cutOuter]] as const) {
      const id = await identifier.identify(new BufferSource(bytes, 'x.bin'));
      expect(id.findings.map((f) => f.flag), label).toEqual(['unidentified']);
      expect(id.mime, label).toBeNull();
    }
  });

  it('does not call a ZIP (or a ZIP-based document) an embedded archive', async () => {
    const zip = storedZipArchive('notes.txt', Buffer.from('hello'));
    const id = await identifier.identify(new BufferSource(zip, 'a.zip'));
    expect(id).toMatchObject({ detectedExt: 'zip', kind: 'archive', findings: [] });
  });

  it('takes plain text as text/plain, not unidentified', async () => {
    const id = await identifier.identify(new BufferSource(Buffer.from('Name,Phone\nAlice,+44 20 7946 0000\nZoë,—\n'), 'contacts.csv'));
    expect(id).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
    expect(identifier.extensionMismatch('contacts.csv', id)).toBe(false);
  });
});

describe('camera HEIF brands', () => {
  const ftyp = (major: string, ...compatible: string[]) => {
    const size = 16 + compatible.length * 4;
    const b = Buffer.alloc(size + 8);
    b.writeUInt32BE(size, 0);
    b.write(`ftyp${major}`, 4, 'latin1');
    compatible.forEach((c, i) => b.write(c, 16 + i * 4, 'latin1'));
    return b;
  };

  it('knows HEIF by any HEIF brand, not just a heic major brand', () => {
    expect(heifFromBrands(ftyp('heix', 'mif1', 'heix', 'miaf', 'MiHB'))).toEqual({ ext: 'heic', mime: 'image/heic' });
    expect(heifFromBrands(ftyp('miaf', 'mif1', 'heic'))).toEqual({ ext: 'heic', mime: 'image/heic' });
    expect(heifFromBrands(ftyp('MiHE', 'mif1', 'MiHB'))).toEqual({ ext: 'heic', mime: 'image/heif' });
    expect(heifFromBrands(ftyp('msf1', 'msf1', 'hevc'))).toEqual({ ext: 'heic', mime: 'image/heic-sequence' });
    // Movies and AVIF are not HEIF images.
    expect(heifFromBrands(ftyp('isom', 'isom', 'mif1', 'mp41'))).toBeNull();
    expect(heifFromBrands(ftyp('avif', 'mif1', 'miaf'))).toBeNull();
    expect(heifFromBrands(ftyp('qt  ', 'qt  '))).toBeNull();
  });

  it('identifies a HEIF whose major brand file-type does not know as an image, not an MP4 video', async () => {
    const bytes = Buffer.concat([ftyp('MiHE', 'mif1', 'MiHB', 'heic'), Buffer.alloc(64)]);
    expect(await identifier().identify(new BufferSource(bytes, 'DSC00001.HIF'))).toMatchObject({ mime: 'image/heic', detectedExt: 'heic', kind: 'image' });
  });
  const identifier = () => new FileTypeIdentifier();
});

describe('QuickTime without ftyp', () => {
  const identifier = new FileTypeIdentifier();

  /** An ffmpeg MOV whose 20-byte `ftyp qt` is overwritten in place by an atom of the same size (no offset moves). */
  async function movStartingWith(atom: 'pnot' | 'skip'): Promise<Buffer> {
    const mov = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-c:v', 'mpeg4'], 'mov');
    expect([mov.readUInt32BE(0), mov.toString('latin1', 4, 8)]).toEqual([20, 'ftyp']);
    const out = Buffer.from(mov);
    out.fill(0, 8, 20);
    out.write(atom, 4, 'latin1');
    // pnot: modification date, version 0, then the preview's atom type and index (a PICT, the first).
    if (atom === 'pnot') out.write('PICT', 14, 'latin1');
    return out;
  }

  it('regression: quicktime-pnot-or-skip-first-unidentified: a movie starting with a preview or padding atom is video/quicktime', async () => {
    for (const atom of ['pnot', 'skip'] as const) {
      const source = new BufferSource(await movStartingWith(atom), 'MOV00001.MOV');
      const id = await identifier.identify(source);
      expect(id, atom).toEqual({ mime: 'video/quicktime', detectedExt: 'mov', kind: 'video', findings: [] });
      // regression: quicktime-track-walk-read-per-box: the head, a header per top-level atom
      // (the preview or padding, wide, mdat, moov) and the moov in one read: not a read per box inside it.
      expect(source.reads.length, atom).toBeLessThanOrEqual(7);
    }
    // The atom name alone is not enough: no moov with a track behind it, no movie.
    const fake = Buffer.concat([Buffer.from([0, 0, 0, 16]), Buffer.from('skip', 'latin1'), unknownBinary(4096)]);
    expect(await identifier.identify(new BufferSource(fake))).toMatchObject({ mime: null, kind: 'other' });
  });
});

describe('where an image ends', () => {
  it('finds data after a JPEG EOI, a PNG IEND and a GIF trailer', async () => {
    const base = sharp({ create: { width: 16, height: 16, channels: 3, background: '#0a0' } });
    const extra = Buffer.from('appended: meet at the usual place');
    for (const [format, bytes] of [
      ['JPEG', await base.clone().jpeg().toBuffer()],
      ['PNG', await base.clone().png().toBuffer()],
      ['GIF', await base.clone().gif().toBuffer()],
    ] as const) {
      const end = imageEnd(Buffer.concat([bytes, extra]));
      expect(end?.end, format).toBe(bytes.length);
      expect(trailingDataFinding(end!, Buffer.concat([bytes, extra]))?.detail, format).toBe(`${extra.length} bytes follow the ${format} ${format === 'JPEG' ? 'end-of-image marker' : format === 'PNG' ? 'IEND chunk' : 'trailer'} at byte ${bytes.length}`);
      // Nothing appended, or only padding: the image ends at its end, no finding.
      expect(imageEnd(bytes)?.end, format).toBe(bytes.length);
      expect(trailingDataFinding(imageEnd(bytes)!, bytes)).toBeNull();
      const padded = Buffer.concat([bytes, Buffer.alloc(512)]);
      expect(trailingDataFinding(imageEnd(padded)!, padded)).toBeNull();
    }
  });

  it('counts the images a JPEG declares in its MPF segment (gain and depth maps) as part of it', async () => {
    const primary = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#a00' } }).jpeg().toBuffer();
    const gainMap = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#777' } }).jpeg().toBuffer();
    const app2 = Buffer.concat([Buffer.from([0xff, 0xe2, 0x00, 0x0a]), Buffer.from('MPF\0', 'latin1'), Buffer.alloc(4)]);
    const withMpf = Buffer.concat([primary.subarray(0, 2), app2, primary.subarray(2), gainMap]);
    expect(imageEnd(withMpf)?.end).toBe(withMpf.length);
    // Without the MPF segment, the same second JPEG is appended data.
    const plain = Buffer.concat([primary, gainMap]);
    expect(imageEnd(plain)?.end).toBe(primary.length);
  });

  it('says a truncated image never ends', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123' } }).jpeg().toBuffer();
    expect(imageEnd(jpeg.subarray(0, jpeg.length - 10))?.end).toBeNull();
  });

  it('reads a ZIP directory only when it ends the file', () => {
    const zip = storedZipArchive('a.txt', Buffer.from('x'));
    expect(zipDirectoryAtEnd(zip, 0, zip.length)).toMatchObject({ entries: 1, archiveStart: 0 });
    const followed = Buffer.concat([zip, Buffer.from('more')]);
    expect(zipDirectoryAtEnd(followed, 0, followed.length)).toBeNull();
  });

  // Info-ZIP writing to a pipe and Python past 65,535 entries put ZIP64 end records before the
  // plain one. With real values in the plain record, the 76 bytes of those records were counted
  // as bytes in front of the archive ("it starts at byte 76" for a ZIP at 0); with 0xFFFF counts,
  // a self-extractor was not placed at all, so not identified as a ZIP nor unpacked.
  it('polyglot-zip64-end-records-counted-as-prefix: a ZIP with ZIP64 end records is placed where it starts', async () => {
    const zip = storedZipArchive('a.txt', Buffer.from('x'));
    for (const countsUnknown of [false, true]) {
      const withZip64 = withZip64EndRecords(zip, countsUnknown);
      expect(zipDirectoryAtEnd(withZip64, 0, withZip64.length)).toMatchObject({ entries: 1, archiveStart: 0 });
      const stub = unknownBinary(5000);
      const sfx = Buffer.concat([stub, withZip64]);
      expect(zipDirectoryAtEnd(sfx, 0, sfx.length)).toMatchObject({ entries: 1, archiveStart: 5000 });
      expect(await new FileTypeIdentifier().identify(new BufferSource(sfx, 'setup.bin'))).toMatchObject({ mime: 'application/zip', detectedExt: 'zip' });
    }
  });
});

/** Inserts a ZIP64 end record and locator before the end record; `countsUnknown` sets its counts to 0xFFFF (Python's way). */
function withZip64EndRecords(zip: Buffer, countsUnknown: boolean, extensible = Buffer.alloc(0)): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const record = Buffer.alloc(56 + extensible.length);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n + BigInt(extensible.length), 4);
  extensible.copy(record, 56);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(zip.readUInt16LE(eocd + 10)), 24);
  record.writeBigUInt64LE(BigInt(zip.readUInt16LE(eocd + 10)), 32);
  record.writeBigUInt64LE(BigInt(zip.readUInt32LE(eocd + 12)), 40);
  record.writeBigUInt64LE(BigInt(zip.readUInt32LE(eocd + 16)), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(eocd), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.from(zip.subarray(eocd));
  if (countsUnknown) end.writeUInt32LE(0xffffffff, 8);
  return Buffer.concat([zip.subarray(0, eocd), record, locator, end]);
}

describe('a ZIP64 end record that cannot be verified', () => {
  // A ZIP64 end record with extensible data (its size field past 44) is not where the reader looks
  // for it; the plain record's offsets were then used and counted its 84 bytes (and the locator's)
  // as bytes in front of the archive: a ZIP at 0 "started at 84", one behind a 5,000-byte stub at 5084.
  it('polyglot-zip64-extensible-data-wrong-archive-start: no start is given rather than a wrong one', () => {
    const zip = storedZipArchive('a.txt', Buffer.from('x'));
    const withExtensible = withZip64EndRecords(zip, false, Buffer.alloc(8, 0x45));
    expect(zipDirectoryAtEnd(withExtensible, 0, withExtensible.length)).toMatchObject({ entries: 1, archiveStart: null });
    const sfx = Buffer.concat([unknownBinary(5000), withExtensible]);
    expect(zipDirectoryAtEnd(sfx, 0, sfx.length)).toMatchObject({ entries: 1, archiveStart: null });
  });
});

describe('the walk to an image end on a crafted file', () => {
  it('stops after MAX_IMAGE_END_STEPS steps instead of holding the thread', () => {
    // A GIF of 1-byte sub-blocks: one step per two bytes, far more than real files need.
    const header = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([1, 0, 1, 0, 0, 0, 0]), Buffer.from([0x21, 0xfe])]);
    const blocks = Buffer.alloc(2 * (MAX_IMAGE_END_STEPS + 10), 1); // 0x01 0x01 ...: sub-blocks of one byte
    const crafted = Buffer.concat([header, blocks, Buffer.from([0x00, 0x3b])]);
    expect(imageEnd(crafted)).toEqual({ format: 'gif', end: null });
    // A real-sized walk still ends.
    const small = Buffer.concat([header, Buffer.alloc(2000, 1), Buffer.from([0x00, 0x3b])]);
    expect(imageEnd(small)).toEqual({ format: 'gif', end: small.length });
  });
});
