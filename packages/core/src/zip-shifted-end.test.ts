import { describe, expect, it } from 'vitest';
import { shiftedZipEndInTail, shiftedZipFrontRefused, ZIP_SIGNATURE } from './zip-shifted-end.js';

/** A local header (no name) with these flags and compressed size. */
function localHeader(flags: number, compressed: number, nameBytes = 0): Buffer {
  const header = Buffer.alloc(30 + nameBytes, 0x61);
  header.fill(0, 0, 30);
  header.writeUInt32LE(ZIP_SIGNATURE.localHeader, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt16LE(flags, 6);
  header.writeUInt32LE(compressed, 18);
  header.writeUInt16LE(nameBytes, 26);
  return header;
}

const MZ = Buffer.from('MZ\x90\x00', 'latin1');
const centralSignature = Buffer.from('PK\x01\x02', 'latin1');

// The one table both the ZIP reader (zip.parser.ts shiftedArchiveEnd) and identification (polyglot.ts
// zipDirectoryBeforeTrailingBytes) decide by: each row the bytes in front of a candidate archive.
describe('shiftedZipFrontRefused (zip-shift-lists-inner-zip-of-cut-outer-stored-member)', () => {
  const rows: Array<[string, Buffer, Buffer, boolean]> = [
    ['a program stub', MZ, Buffer.concat([MZ, Buffer.alloc(5000, 0x90)]), false],
    ['the file starts with a local header (a ZIP itself)', Buffer.from('PK\x03\x04'), Buffer.alloc(5000, 0x90), true],
    ['a stored member whose data starts at the archive', MZ, Buffer.concat([MZ, Buffer.alloc(100), localHeader(0, 9999, 9)]), true],
    ['a stored member whose data covers the archive\'s start', MZ, Buffer.concat([MZ, localHeader(0, 2000, 9), Buffer.alloc(700)]), true],
    ['a member whose data ends before the archive', MZ, Buffer.concat([MZ, localHeader(0, 300, 9), Buffer.alloc(700)]), false],
    ['a streamed member (sizes unknown), no directory after it', MZ, Buffer.concat([MZ, localHeader(8, 0, 9), Buffer.alloc(700)]), true],
    ['a ZIP64 member (size 0xFFFFFFFF), no directory after it', MZ, Buffer.concat([MZ, localHeader(0, 0xffffffff, 9), Buffer.alloc(700)]), true],
    // cat stub a.zip b.zip: a's members are streamed, its directory ends them before b starts.
    ['a streamed member that a directory follows', MZ, Buffer.concat([MZ, localHeader(8, 0, 9), Buffer.alloc(300), centralSignature, Buffer.alloc(300)]), false],
  ];
  for (const [label, head, front, refused] of rows) {
    it(label, () => {
      const fileHead = head.length >= 4 ? head.subarray(0, 4) : head;
      expect(shiftedZipFrontRefused(fileHead, front, front.length)).toBe(refused);
    });
  }
});

describe('shiftedZipEndInTail (identify-zip64-without-directory-disagrees-with-unpack)', () => {
  /** stub + ZIP64 end record + locator + end record + bytes after, the record's directory size and offset given. */
  function zip64(size64: bigint, offset64: bigint, recorded: bigint): Buffer {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(ZIP_SIGNATURE.zip64EndRecord, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(1n, 24);
    record.writeBigUInt64LE(1n, 32);
    record.writeBigUInt64LE(size64, 40);
    record.writeBigUInt64LE(offset64, 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP_SIGNATURE.zip64Locator, 0);
    locator.writeBigUInt64LE(recorded, 8);
    const eocd = Buffer.alloc(22, 0xff);
    eocd.writeUInt32LE(ZIP_SIGNATURE.endRecord, 0);
    eocd.writeUInt16LE(0, 20);
    return Buffer.concat([Buffer.alloc(3000, 0x90), record, locator, eocd, Buffer.from('TAIL')]);
  }
  it('a ZIP64 record whose directory offset plus size is not where it lies is refused', () => {
    const file = zip64(0n, 0n, 100n);
    expect(shiftedZipEndInTail(file, 0, file.length)).toBeNull();
  });
  it('a ZIP64 record with a directory right before it is the candidate, placed by it', () => {
    const file = zip64(50n, 1000n, 1050n);
    expect(shiftedZipEndInTail(file, 0, file.length)).toMatchObject({ prefix: 3000 - 1050, directoryOffset: 2950, directorySize: 50, entries: 1, trailingBytes: 4 });
  });
});
