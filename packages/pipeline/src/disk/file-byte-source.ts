import { open, type FileHandle } from 'node:fs/promises';
import { ExhibitError } from '@exhibit/core';
import type { ByteSource } from './disk-reader.types.js';

/**
 * Small ByteSources for the file-system readers: a local file (tests and
 * `exhibit image ls`), bytes in memory (crafted hostile images), and a file's
 * data described by runs (NTFS run lists, ext extents and block maps).
 */

function checkRange(size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new ExhibitError('corrupt-file', `read of ${length} bytes at ${offset} lies outside the ${what} (${size} bytes)`);
  }
}

export interface ClosableByteSource extends ByteSource {
  close(): Promise<void>;
}

/** A local file, read with positioned reads; the file is opened read-only. */
export async function openFileByteSource(filePath: string): Promise<ClosableByteSource> {
  const handle: FileHandle = await open(filePath, 'r');
  const { size } = await handle.stat();
  return {
    size,
    async read(offset, length) {
      checkRange(size, offset, length, 'image file');
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new ExhibitError('corrupt-file', `image file ended at ${offset + done} of ${size} bytes`);
        done += bytesRead;
      }
      return out;
    },
    spanInBase: (offset, length) => ({ offset, length }),
    close: () => handle.close(),
  };
}

/** Bytes in memory as a source (tests, resident NTFS data, ext inline data). */
export function bytesByteSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    async read(offset, length) {
      checkRange(bytes.length, offset, length, 'buffer');
      // A copy, never a view (Buffer#slice shares memory): readers apply NTFS fixups in place.
      return Uint8Array.prototype.slice.call(bytes, offset, offset + length);
    },
  };
}

/** One run of a file's data: `length` bytes at file offset `logical`, at `physical` in the base, or sparse (null: zeros). */
export interface DataRun {
  logical: number;
  length: number;
  physical: number | null;
}

/**
 * A file's data through its runs over the volume. Gaps between runs and sparse
 * runs read as zeros; runs must be sorted by `logical`, not overlap, and lie
 * inside the base (the caller checks that before building the source, so a
 * run beyond the volume is a problem on the entry rather than a failed read).
 */
export function runsByteSource(base: ByteSource, runs: readonly DataRun[], size: number): ByteSource {
  const find = (offset: number): number => {
    let lo = 0;
    let hi = runs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]!.logical <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  return {
    size,
    async read(offset, length, options) {
      checkRange(size, offset, length, 'file data');
      const out = new Uint8Array(length);
      let pos = offset;
      const end = offset + length;
      let i = find(pos);
      if (i < 0) i = 0;
      while (pos < end && i < runs.length) {
        const run = runs[i]!;
        if (run.logical + run.length <= pos) {
          i++;
          continue;
        }
        if (run.logical >= end) break;
        const from = Math.max(pos, run.logical);
        const to = Math.min(end, run.logical + run.length);
        if (run.physical !== null && to > from) {
          const chunk = await base.read(run.physical + (from - run.logical), to - from, options);
          out.set(chunk, from - offset);
        }
        pos = to;
        i++;
      }
      return out;
    },
    spanInBase(offset, length) {
      if (!base.spanInBase) return null;
      const i = find(offset);
      if (i < 0) return null;
      const run = runs[i]!;
      if (run.physical === null || offset + length > run.logical + run.length) return null;
      return base.spanInBase(run.physical + (offset - run.logical), length);
    },
  };
}
