import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { derivedNames, ExhibitError, isExhibitError, type BlobRef, type BlobStore } from '@exhibit/core';
import type { FileBytes } from './file-bytes.js';

/**
 * Delivering exactly one file's bytes, never more.
 *
 * A ZIP member stored uncompressed has no blob of its own: its bytes are a
 * span of the evidence archive. A read SAS cannot be narrowed to a span, so
 * one on the archive would let whoever downloads one photo read the whole
 * phone. Such a member is therefore either streamed through the API (the
 * span only, re-hashed on the way) or copied once into `derived/` under its
 * SHA-256, and that copy, which holds nothing else, is what gets signed.
 */

/** Files up to this size are read and checked in full before the first byte is sent. */
export const VERIFY_BEFORE_SEND_BYTES = 16 * 1024 * 1024;

/**
 * Largest member copied to derived/ within one request for a download URL.
 * The copy streams through the API; a bigger one could outlast the request
 * (Azure's front end gives up after 230 s) and would then start over at every
 * attempt. Bigger members are streamed instead (GET …/content).
 */
export const MATERIALISE_MAX_BYTES = 512 * 1024 * 1024;

export interface ExpectedBytes {
  length: number;
  sha256: string;
}

function mismatch(what: string, details: Record<string, unknown>): ExhibitError {
  return new ExhibitError('hash-mismatch', what, { details });
}

/**
 * Passes bytes through while counting and hashing them. Fails (and so aborts
 * whatever it feeds) on a byte beyond the recorded length, and at the end when
 * the length or the SHA-256 differ from the recorded ones: the last bytes are
 * held back until that check passes, so a consumer that commits only on a
 * clean end (a block blob upload) never commits bad bytes.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  private held: Buffer | null = null;

  constructor(private readonly expected: ExpectedBytes) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.length) {
      callback(mismatch(`more bytes than the recorded ${this.expected.length}`, { expectedBytes: this.expected.length, seenBytes: this.seen }));
      return;
    }
    this.hash.update(chunk);
    // Hold back the latest chunk; pass on the one before it.
    const previous = this.held;
    this.held = chunk;
    callback(null, previous ?? undefined);
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.expected.length) {
      callback(mismatch(`read ${this.seen} bytes, the recorded size is ${this.expected.length}`, { expectedBytes: this.expected.length, seenBytes: this.seen }));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.sha256) {
      callback(mismatch('the bytes read do not have the recorded SHA-256', { expectedSha256: this.expected.sha256, actualSha256: actual }));
      return;
    }
    callback(null, this.held ?? undefined);
  }
}

/** Exactly the file's bytes from storage: the span of a member read in place, or the whole blob of a file that is one. */
async function openFileBytes(blobs: BlobStore, bytes: FileBytes, expected: ExpectedBytes, abortSignal: AbortSignal | undefined): Promise<Readable> {
  if (expected.length === 0) return Readable.from([]);
  const offset = bytes.range?.offset ?? 0;
  // The count is the recorded size, never anything the caller sent.
  return blobs.openRead(bytes.blob, { offset, count: expected.length, ...(abortSignal ? { abortSignal } : {}) });
}

/**
 * The file's bytes, checked against its recorded size and SHA-256.
 * Small files are read and checked in full first (a bad file is a clean
 * error response, nothing sent); larger ones are streamed through a
 * VerifyingStream, which destroys the stream on a mismatch so the HTTP
 * response is cut short of its Content-Length and the client can tell.
 */
export async function readVerifiedFile(
  blobs: BlobStore,
  bytes: FileBytes,
  expected: ExpectedBytes,
  options: { abortSignal?: AbortSignal; verifyBeforeSendBytes?: number } = {},
): Promise<Buffer | Readable> {
  const source = await openFileBytes(blobs, bytes, expected, options.abortSignal);
  const verifying = new VerifyingStream(expected);
  if (expected.length <= (options.verifyBeforeSendBytes ?? VERIFY_BEFORE_SEND_BYTES)) {
    const chunks: Buffer[] = [];
    verifying.on('data', (c: Buffer) => chunks.push(c));
    await pipeline(source, verifying);
    return Buffer.concat(chunks);
  }
  source.on('error', (err) => verifying.destroy(err));
  return source.pipe(verifying);
}

/**
 * The blob to sign for a member read in place: its content-addressed copy in
 * `derived/` (`content/<sha256>`), written once from the span with the bytes
 * checked on the way (nothing is committed unless the SHA-256 matches). A
 * copy already there, with the right size, is used as it is.
 */
export async function materialiseMember(
  blobs: BlobStore,
  derivedContainer: string,
  bytes: FileBytes,
  expected: ExpectedBytes,
  options: { abortSignal?: AbortSignal; maxBytes?: number } = {},
): Promise<{ blob: BlobRef; created: boolean }> {
  const blob: BlobRef = { container: derivedContainer, name: derivedNames.content(expected.sha256) };
  const existing = await sizeOf(blobs, blob, options.abortSignal);
  if (existing === expected.length) return { blob, created: false };
  if (existing !== null) {
    throw new ExhibitError('conflict', `${blob.name} exists with ${existing} bytes, not the recorded ${expected.length}`);
  }
  const maxBytes = options.maxBytes ?? MATERIALISE_MAX_BYTES;
  if (expected.length > maxBytes) {
    throw new ExhibitError(
      'limit-exceeded',
      `this file (${expected.length} bytes) is read in place from its archive and is too large to copy for a download URL (limit ${maxBytes}); ` +
        'get its bytes with GET …/content (exhibit download) instead',
      { details: { size: expected.length, maxBytes } },
    );
  }
  const source = await openFileBytes(blobs, bytes, expected, options.abortSignal);
  const verifying = new VerifyingStream(expected);
  source.on('error', (err) => verifying.destroy(err));
  const { created } = await blobs.upload(blob, source.pipe(verifying), {
    ifNotExists: true,
    contentType: 'application/octet-stream',
    metadata: { source_sha256: expected.sha256, source_container: bytes.blob.container, source_offset: String(bytes.range?.offset ?? 0) },
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return { blob, created };
}

async function sizeOf(blobs: BlobStore, blob: BlobRef, abortSignal: AbortSignal | undefined): Promise<number | null> {
  try {
    return (await blobs.getProperties(blob, abortSignal ? { abortSignal } : {})).size;
  } catch (err) {
    if (isExhibitError(err, 'not-found')) return null;
    throw err;
  }
}

/** A Content-Disposition that survives any file name: an ASCII fallback plus RFC 5987 UTF-8. */
export function contentDisposition(fileName: string): string {
  const cleaned = fileName.replace(/[\x00-\x1f\x7f/\\]/g, '_') || 'file';
  const ascii = cleaned.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  const encoded = encodeURIComponent(cleaned).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
