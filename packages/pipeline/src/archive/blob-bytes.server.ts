import type { Readable } from 'node:stream';
import { ExhibitError, errorMessage, type BlobRef, type BlobStore } from '@exhibit/core';
import type { ServeResult } from '@exhibit/core/deadline-pool';
import { ARCHIVE_READ_BYTES, type ArchiveRequest } from './archive.tasks.js';

/**
 * The main thread's half of an archive parser thread's byte requests: the
 * only bytes a thread gets are read here, from the archive's blob (or its
 * span of one), pinned to the ETag it had when opened, under the unpack's
 * abort signal. What a thread asks for is checked like any untrusted number.
 */

/** ZIP: serves 'read' requests, `length` bytes from `offset` of the archive. */
export function serveRange(blobs: BlobStore, blob: BlobRef, archive: { offset: number; size: number; etag?: string }) {
  return async (raw: unknown, abortSignal?: AbortSignal): Promise<ServeResult> => {
    const request = raw as ArchiveRequest;
    if (request.t !== 'read') throw new ExhibitError('invalid-argument', `archive parser thread sent '${request.t}' where it may only read`);
    const { offset, length } = request;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > archive.size || length > ARCHIVE_READ_BYTES) {
      throw new ExhibitError('invalid-argument', `archive parser thread asked for bytes ${offset}+${length}, outside the ${archive.size}-byte archive`);
    }
    let chunk: Buffer;
    try {
      chunk = await blobs.readRange(blob, archive.offset + offset, length, {
        ...(archive.etag ? { ifMatch: archive.etag } : {}),
        ...(abortSignal ? { abortSignal } : {}),
      });
    } catch (err) {
      throw storageError(err, blob);
    }
    // The range lies inside the archive, whose size is storage's own: fewer bytes are storage's fault (a connection cut
    // without an error), never the archive's end, which a thread would take for damage (a survey cut short, a smaller
    // declared count: zip-survey-short-read-lowers-declared-count).
    if (chunk.length !== length) {
      throw new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${chunk.length} bytes where ${length} at ${archive.offset + offset} were asked for`);
    }
    const bytes = chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength) as ArrayBuffer;
    return { value: bytes, transfer: [bytes] };
  };
}

/** TAR: serves 'feed' requests with the next piece of the archive's read stream (null at its end). */
export function serveFeed(source: Readable, blob: BlobRef) {
  const pieces = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return async (raw: unknown): Promise<ServeResult> => {
    const request = raw as ArchiveRequest;
    if (request.t !== 'feed') throw new ExhibitError('invalid-argument', `archive parser thread sent '${request.t}' where it may only take the stream`);
    let next: IteratorResult<Buffer>;
    try {
      next = await pieces.next();
    } catch (err) {
      throw storageError(err, blob);
    }
    if (next.done) return { value: null };
    const piece = next.value;
    const bytes = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.byteLength) as ArrayBuffer;
    return { value: bytes, transfer: [bytes] };
  };
}

/** Failures of the blob store are infrastructure faults (retryable), never evidence findings. */
export function storageError(err: unknown, blob: BlobRef): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${errorMessage(err)}`, { cause: err });
}
