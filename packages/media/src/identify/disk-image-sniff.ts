import { DISK_IMAGE_MIMES, type RandomAccessSource } from '@exhibit/core';

/**
 * Recognises a disk image by its content (docs/disk-images.md), for content
 * file-type does not name: an EWF or VHDX signature at the start, a VHD
 * footer at the end, or a first sector that is a partition table (GPT, MBR)
 * or a file system's boot sector / superblock (FAT, exFAT, NTFS, ext). This
 * only names the type; the readers in packages/pipeline/src/disk check the
 * structures properly when the image is unpacked.
 */

type Found = { ext: string; mime: string };

const SIGNATURES: ReadonlyArray<{ bytes: readonly number[]; found: Found }> = [
  { bytes: [0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00], found: { ext: 'e01', mime: DISK_IMAGE_MIMES.ewf } },
  { bytes: [0x45, 0x56, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00], found: { ext: 'ex01', mime: DISK_IMAGE_MIMES.ewf2 } },
  { bytes: [0x4c, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00], found: { ext: 'l01', mime: DISK_IMAGE_MIMES.lef } },
  { bytes: [0x4c, 0x45, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00], found: { ext: 'lx01', mime: DISK_IMAGE_MIMES.ewf2 } },
  // 'vhdxfile'; a dynamic VHD also starts with a copy of its 'conectix' footer.
  { bytes: [0x76, 0x68, 0x64, 0x78, 0x66, 0x69, 0x6c, 0x65], found: { ext: 'vhdx', mime: DISK_IMAGE_MIMES.vhdx } },
  { bytes: [0x63, 0x6f, 0x6e, 0x65, 0x63, 0x74, 0x69, 0x78], found: { ext: 'vhd', mime: DISK_IMAGE_MIMES.vhd } },
];

const RAW: Found = { ext: 'img', mime: DISK_IMAGE_MIMES.raw };
const text = (b: Uint8Array, at: number, n: number) => Buffer.from(b.subarray(at, at + n)).toString('latin1');
const le16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const le32 = (b: Uint8Array, at: number) => (le16(b, at) | (le16(b, at + 2) << 16)) >>> 0;
const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

export async function diskImageOf(source: RandomAccessSource, head: Uint8Array): Promise<Found | null> {
  for (const { bytes, found } of SIGNATURES) if (bytes.every((b, i) => head[i] === b)) return found;
  // A fixed VHD is the raw disk followed by a 512-byte footer.
  if (source.size >= 1024 && source.size % 512 === 0) {
    const tail = await source.read(source.size - 512, 8);
    if (text(tail, 0, 8) === 'conectix') return { ext: 'vhd', mime: DISK_IMAGE_MIMES.vhd };
  }
  if (head.length < 512) return null;
  const bootSignature = head[510] === 0x55 && head[511] === 0xaa;
  if (bootSignature && (text(head, 3, 8) === 'NTFS    ' || text(head, 3, 8) === 'EXFAT   ' || isFatBootSector(head))) return RAW;
  if (head.length >= 520 && text(head, 512, 8) === 'EFI PART') return RAW;
  if (bootSignature && isPartitionTable(head)) return RAW;
  // ext2/3/4: the superblock at 1024, magic 0xEF53, a block size of 1-64 KiB and some inodes.
  if (head.length >= 2048 && le16(head, 1080) === 0xef53 && le32(head, 1048) <= 6 && le32(head, 1024) > 0) return RAW;
  return null;
}

/** A FAT12/16/32 BIOS parameter block: a jump, sane sector and cluster sizes, one or two FATs, the type text. */
function isFatBootSector(b: Uint8Array): boolean {
  if (!(b[0] === 0xeb || b[0] === 0xe9)) return false;
  const bytesPerSector = le16(b, 11);
  const sectorsPerCluster = b[13]!;
  const fats = b[16]!;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !isPowerOfTwo(sectorsPerCluster) || le16(b, 14) === 0 || fats < 1 || fats > 2) return false;
  return text(b, 54, 3) === 'FAT' || text(b, 82, 5) === 'FAT32';
}

/** Four MBR entries with boot flags 0x00/0x80, at least one used, none starting inside the table's own sector. */
function isPartitionTable(b: Uint8Array): boolean {
  let used = 0;
  for (let i = 0; i < 4; i += 1) {
    const at = 446 + 16 * i;
    if (b[at] !== 0x00 && b[at] !== 0x80) return false;
    const type = b[at + 4]!;
    const start = le32(b, at + 8);
    const sectors = le32(b, at + 12);
    if (type === 0) continue;
    if (start === 0 || sectors === 0) return false;
    used += 1;
  }
  return used > 0;
}
