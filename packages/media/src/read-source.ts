import { ExhibitError, type RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from './media-limits.js';

/**
 * The whole content of a source through ranged reads, refusing anything larger
 * than `maxBytes` before reading a byte.
 */
export async function readWhole(
  source: RandomAccessSource,
  options: { maxBytes: number; abortSignal?: AbortSignal },
): Promise<Buffer> {
  if (!Number.isSafeInteger(source.size) || source.size < 0) {
    throw new ExhibitError('invalid-argument', `source size is not a byte count: ${String(source.size)}`);
  }
  if (source.size > options.maxBytes) {
    throw new ExhibitError('limit-exceeded', `${source.size} bytes is more than the ${options.maxBytes} bytes allowed for this operation`);
  }
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < source.size) {
    options.abortSignal?.throwIfAborted();
    const length = Math.min(MEDIA_LIMITS.imageReadChunkBytes, source.size - offset);
    const chunk = await source.read(offset, length, options.abortSignal ? { abortSignal: options.abortSignal } : {});
    if (chunk.length === 0) break;
    parts.push(chunk);
    offset += chunk.length;
  }
  if (offset !== source.size) {
    throw new ExhibitError('storage-unavailable', `read ${offset} of ${source.size} bytes`);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, offset);
}
