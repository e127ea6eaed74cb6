import { ExhibitError, LIMITS } from '@exhibit/core';
import { ascii, checkRange, readPieces, view } from './byte-source.js';
import type { ByteSource } from './disk-reader.types.js';

/**
 * Microsoft VHD (the format of Azure managed-disk snapshots), fixed and
 * dynamic, from the published "Virtual Hard Disk Image Format Specification":
 * a 512-byte big-endian footer at the end (copied at the start of dynamic
 * disks); dynamic disks add a header, a block allocation table (BAT) and, per
 * block, a sector bitmap before the data. Unallocated blocks and sectors whose
 * bitmap bit is clear read as zeros. Differencing disks (which need a parent)
 * and VHDX are recognised and refused.
 */

export const VHD_FOOTER_BYTES = 512;
const UNALLOCATED = 0xffffffff;

export type VhdDiskType = 'fixed' | 'dynamic';

/** The footer's one's-complement checksum of every byte but the checksum itself. */
export function vhdChecksum(footer: Uint8Array, checksumAt: number): number {
  let sum = 0;
  for (let i = 0; i < footer.length; i += 1) if (i < checksumAt || i >= checksumAt + 4) sum += footer[i]!;
  return ~sum >>> 0;
}

export function isVhdFooter(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && ascii(bytes.subarray(0, 8)) === 'conectix';
}

export function isVhdx(head: Uint8Array): boolean {
  return head.length >= 8 && ascii(head.subarray(0, 8)) === 'vhdxfile';
}

interface DynamicBlock {
  bitmap: Uint8Array;
  /** Where the block's data starts in the file. */
  dataOffset: number;
}

export class VhdImage implements ByteSource {
  private readonly blockCache = new Map<number, Promise<DynamicBlock | null>>();
  /** The blocks of blockCache whose bitmap has been read (null: unallocated), for spanInBase, which cannot wait. */
  private readonly blocksRead = new Map<number, DynamicBlock | null>();

  private constructor(
    private readonly base: ByteSource,
    readonly diskType: VhdDiskType,
    readonly size: number,
    private readonly dynamic?: { bat: Uint32Array; blockBytes: number; bitmapBytes: number },
  ) {}

  static async open(base: ByteSource, options: { abortSignal?: AbortSignal } = {}): Promise<VhdImage> {
    if (base.size < VHD_FOOTER_BYTES) throw new ExhibitError('corrupt-file', 'VHD shorter than its footer');
    // Some writers leave a 511-byte footer (pre-2004 Virtual PC); the standard one is 512.
    const footer = await base.read(base.size - VHD_FOOTER_BYTES, VHD_FOOTER_BYTES, options);
    if (!isVhdFooter(footer)) throw new ExhibitError('corrupt-file', 'VHD without the conectix footer');
    const dv = new DataView(footer.buffer, footer.byteOffset, footer.byteLength);
    if (vhdChecksum(footer, 64) !== dv.getUint32(64, false)) throw new ExhibitError('corrupt-file', 'VHD footer checksum mismatch');
    const currentSize = Number(dv.getBigUint64(48, false));
    const diskType = dv.getUint32(60, false);
    if (!Number.isSafeInteger(currentSize) || currentSize > LIMITS.maxMediaBytes) {
      throw new ExhibitError('limit-exceeded', `VHD declares ${currentSize} bytes, beyond ${LIMITS.maxMediaBytes}`);
    }
    if (diskType === 2) {
      if (currentSize > base.size - VHD_FOOTER_BYTES) {
        throw new ExhibitError('corrupt-file', `fixed VHD declares ${currentSize} bytes but holds ${base.size - VHD_FOOTER_BYTES}`);
      }
      return new VhdImage(base, 'fixed', currentSize);
    }
    if (diskType === 4) throw new ExhibitError('unsupported-format', 'differencing VHD: its data depends on a parent disk that is not part of the evidence');
    if (diskType !== 3) throw new ExhibitError('corrupt-file', `VHD disk type ${diskType} is not fixed (2), dynamic (3) or differencing (4)`);

    const headerOffset = Number(dv.getBigUint64(16, false));
    checkRange(base.size, headerOffset, 1024, 'VHD dynamic header');
    const header = await base.read(headerOffset, 1024, options);
    const hv = view(header);
    if (ascii(header.subarray(0, 8)) !== 'cxsparse') throw new ExhibitError('corrupt-file', 'VHD dynamic header without its cxsparse cookie');
    if (vhdChecksum(header, 36) !== hv.getUint32(36, false)) throw new ExhibitError('corrupt-file', 'VHD dynamic header checksum mismatch');
    const batOffset = Number(hv.getBigUint64(16, false));
    const entries = hv.getUint32(28, false);
    const blockBytes = hv.getUint32(32, false);
    if (blockBytes < 512 || blockBytes % 512 !== 0 || blockBytes > 256 * 1024 * 1024) {
      throw new ExhibitError('corrupt-file', `VHD block size ${blockBytes} is not a sane multiple of 512`);
    }
    if (entries * blockBytes < currentSize) throw new ExhibitError('corrupt-file', `VHD BAT of ${entries} blocks cannot hold ${currentSize} bytes`);
    const needed = Math.ceil(currentSize / blockBytes);
    if (needed * 4 > LIMITS.maxDiskReadBytes) throw new ExhibitError('limit-exceeded', `VHD BAT of ${needed} entries is too large`);
    checkRange(base.size, batOffset, needed * 4, 'VHD BAT');
    const batBytes = await base.read(batOffset, needed * 4, options);
    const bv = view(batBytes);
    const bat = new Uint32Array(needed);
    for (let i = 0; i < needed; i += 1) bat[i] = bv.getUint32(i * 4, false);
    const bitmapBytes = Math.ceil(blockBytes / 512 / 8 / 512) * 512;
    return new VhdImage(base, 'dynamic', currentSize, { bat, blockBytes, bitmapBytes });
  }

  private block(index: number, options?: { abortSignal?: AbortSignal }) {
    const cached = this.blockCache.get(index);
    if (cached) return cached;
    const pending = (async () => {
      const { bat, blockBytes, bitmapBytes } = this.dynamic!;
      const sector = bat[index]!;
      if (sector === UNALLOCATED) return null;
      const start = sector * 512;
      if (start + bitmapBytes + blockBytes > this.base.size - VHD_FOOTER_BYTES) {
        // The last block of a disk may be cut short only if the disk ends inside it; otherwise the BAT points outside.
        const blockEnd = Math.min((index + 1) * blockBytes, this.size) - index * blockBytes;
        if (start + bitmapBytes + blockEnd > this.base.size) {
          throw new ExhibitError('corrupt-file', `VHD block ${index} at sector ${sector} lies outside the file`);
        }
      }
      const bitmap = await this.base.read(start, bitmapBytes, options);
      return { bitmap, dataOffset: start + bitmapBytes };
    })();
    pending.then(
      (block) => {
        if (this.blockCache.get(index) === pending) this.blocksRead.set(index, block);
      },
      () => this.blockCache.delete(index),
    );
    this.blockCache.set(index, pending);
    while (this.blockCache.size > 64) {
      const oldest = this.blockCache.keys().next().value!;
      this.blockCache.delete(oldest);
      this.blocksRead.delete(oldest);
    }
    return pending;
  }

  async read(offset: number, length: number, options?: { abortSignal?: AbortSignal }): Promise<Uint8Array> {
    checkRange(this.size, offset, length, 'VHD media');
    if (!this.dynamic) return this.base.read(offset, length, options);
    // Per block; within it, runs of sectors whose bitmap bit is set are read, the rest are zeros.
    return readPieces(offset, length, this.dynamic.blockBytes, async (blockIndex, within, count) => {
      const block = await this.block(blockIndex, options);
      const out = new Uint8Array(count);
      if (!block) return out;
      const present = (sector: number) => (block.bitmap[sector >> 3]! & (0x80 >> (sector & 7))) !== 0;
      let at = within;
      while (at < within + count) {
        const sector = Math.floor(at / 512);
        const state = present(sector);
        let end = Math.min((sector + 1) * 512, within + count);
        while (end < within + count && present(Math.floor(end / 512)) === state) end = Math.min(end + 512, within + count);
        if (state) out.set(await this.base.read(block.dataOffset + at, end - at, options), at - within);
        at = end;
      }
      return out;
    });
  }

  /**
   * Fixed VHD: the media is the file's first bytes. Dynamic: a range within
   * one allocated block whose every sector's bitmap bit is set lies as is in
   * the block's data (blocks are not in media order, so never across two); a
   * range in a block not read yet is not known to be one (the disk parser
   * thread asks after reading a file's first bytes, which reads its block).
   * A sector with a clear bit reads as zeros whatever the file holds there,
   * so a range touching one is never a span.
   */
  spanInBase(offset: number, length: number): { offset: number; length: number } | null {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) return null;
    if (!this.dynamic) return this.base.spanInBase?.(offset, length) ?? null;
    if (length === 0) return null;
    const { blockBytes } = this.dynamic;
    const index = Math.floor(offset / blockBytes);
    if (Math.floor((offset + length - 1) / blockBytes) !== index) return null;
    const block = this.blocksRead.get(index);
    if (!block) return null;
    const within = offset - index * blockBytes;
    for (let sector = Math.floor(within / 512); sector <= Math.floor((within + length - 1) / 512); sector += 1) {
      if ((block.bitmap[sector >> 3]! & (0x80 >> (sector & 7))) === 0) return null;
    }
    return this.base.spanInBase?.(block.dataOffset + within, length) ?? null;
  }
}
