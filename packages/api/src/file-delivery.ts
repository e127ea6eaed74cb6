import { createHash } from 'node:crypto';
import { pipeline as pipeStreams, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExhibitError, type BlobStore } from '@exhibit/core';
import type { FileBytes } from './file-bytes.js';
import type { VerifiedSpanKey, VerifiedSpans } from './verified-spans.js';

/**
 * Delivering exactly one file's bytes, never more.
 *
 * A ZIP member stored uncompressed has no blob of its own: its bytes are a
 * span of the evidence archive. A read SAS cannot be narrowed to a span, so
 * one on the archive would let whoever downloads one photo read the whole
 * phone. Such a member is therefore only ever streamed through the API (the
 * span only, re-hashed on the way): GET …/content, which download links
 * (download-tickets.ts) point at.
 */

/** Files up to this size are read and checked in full before the first byte is sent. */
export const VERIFY_BEFORE_SEND_BYTES = 16 * 1024 * 1024;

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

/**
 * Exactly the file's bytes from storage: the span of a member read in place, or the whole blob of a file that is one.
 * With `ifMatch`, only the blob of that ETag (else 'precondition-failed').
 */
async function openFileBytes(blobs: BlobStore, bytes: FileBytes, expected: ExpectedBytes, abortSignal: AbortSignal | undefined, ifMatch?: string): Promise<Readable> {
  if (expected.length === 0) return Readable.from([]);
  const offset = bytes.range?.offset ?? 0;
  // The count is the recorded size, never anything the caller sent.
  return blobs.openRead(bytes.blob, { offset, count: expected.length, ...(ifMatch ? { ifMatch } : {}), ...(abortSignal ? { abortSignal } : {}) });
}

/** Which case's record of verified spans a read may use and add to (verified-spans.ts): the file's own case and evidence item. */
export interface SpanRecord {
  spans: VerifiedSpans;
  caseId: string;
  evidenceId: string;
}

/** What a verified-span record is keyed on: whose check, where the file's bytes are and the SHA-256 they were checked against. */
function spanKeyOf(record: SpanRecord, bytes: FileBytes, expected: ExpectedBytes): VerifiedSpanKey {
  return {
    caseId: record.caseId,
    evidenceId: record.evidenceId,
    container: bytes.blob.container,
    blobName: bytes.blob.name,
    offset: bytes.range?.offset ?? 0,
    length: expected.length,
    sha256: expected.sha256,
  };
}

/**
 * The whole span hashed as recorded in this request, read only from the blob version `etag` (If-Match):
 * what the caller may remember (VerifiedSpans.remember) once the custody entry saying so is written.
 */
export interface PinnedVerification {
  key: VerifiedSpanKey;
  etag: string;
  verifiedAtMs: number;
}

const isCode = (err: unknown, ...codes: string[]): boolean => err instanceof ExhibitError && codes.includes(err.code);

/**
 * All of the file, checked against its recorded size and SHA-256 before any of it is returned. With a
 * record of verified spans, the read is pinned to the blob's ETag (looked up first, then If-Match on the
 * read), so the bytes hashed are that ETag's and `pinned` can say so. Nothing is recorded here: the
 * caller remembers `pinned` only after the custody entry of this request is written, so a record never
 * exists that no entry in the case's log shows.
 * The BlobStore port returns no ETag with a read, hence the look-up: one small request per verification.
 */
async function readWholeChecked(
  blobs: BlobStore,
  bytes: FileBytes,
  expected: ExpectedBytes,
  options: { abortSignal?: AbortSignal; spanRecord?: SpanRecord },
): Promise<{ whole: Buffer; pinned?: PinnedVerification }> {
  const record = options.spanRecord;
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  if (!record || expected.length === 0) return { whole: await readChecked(await openFileBytes(blobs, bytes, expected, options.abortSignal), expected) };
  const { etag } = await blobs.getProperties(bytes.blob, signal);
  let whole: Buffer;
  try {
    whole = await readChecked(await openFileBytes(blobs, bytes, expected, options.abortSignal, etag), expected);
  } catch (err) {
    // Written between the look at its ETag and the read: checked as ever, but no version to pin a record to.
    if (!isCode(err, 'precondition-failed')) throw err;
    return { whole: await readChecked(await openFileBytes(blobs, bytes, expected, options.abortSignal), expected) };
  }
  return { whole, pinned: { key: spanKeyOf(record, bytes, expected), etag, verifiedAtMs: record.spans.now() } };
}

/**
 * `source` through `check`, as one stream: whatever ends it early (a mismatch,
 * a storage error, the consumer destroying it because the client went away or
 * the custody entry could not be written) ends both, so the blob read behind
 * it is never left open. Errors reach the consumer through the stream returned.
 */
function checkedStream(source: Readable, check: Transform): Readable {
  return pipeStreams(source, check, () => {});
}

/** All of `source`, checked against the recorded size and SHA-256 before any of it is returned. */
async function readChecked(source: Readable, expected: ExpectedBytes): Promise<Buffer> {
  const verifying = new VerifyingStream(expected);
  const chunks: Buffer[] = [];
  verifying.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(source, verifying);
  return Buffer.concat(chunks);
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
  return (await readVerifiedWhole(blobs, bytes, expected, options)).body;
}

/** readVerifiedFile, with the pinned verification (`pinned`) of a file read whole and checked first, for the caller to remember once recorded. */
export async function readVerifiedWhole(
  blobs: BlobStore,
  bytes: FileBytes,
  expected: ExpectedBytes,
  options: { abortSignal?: AbortSignal; verifyBeforeSendBytes?: number; spanRecord?: SpanRecord } = {},
): Promise<{ body: Buffer | Readable; pinned?: PinnedVerification }> {
  if (expected.length <= (options.verifyBeforeSendBytes ?? VERIFY_BEFORE_SEND_BYTES)) {
    const { whole, pinned } = await readWholeChecked(blobs, bytes, expected, options);
    return { body: whole, ...(pinned ? { pinned } : {}) };
  }
  const source = await openFileBytes(blobs, bytes, expected, options.abortSignal);
  return { body: checkedStream(source, new VerifyingStream(expected)) };
}

/**
 * Passes exactly `lengthBytes` through, failing (and so cutting the response
 * short of its Content-Length) on a byte more or a byte less. A part read on
 * its own cannot be checked against the file's SHA-256; this is what is left
 * to check (readCheckedFilePart says when a part is read on its own).
 */
export class ExactLengthStream extends Transform {
  private seen = 0;

  constructor(private readonly lengthBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.lengthBytes) {
      callback(mismatch(`more bytes than the ${this.lengthBytes} asked for`, { expectedBytes: this.lengthBytes, seenBytes: this.seen }));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.lengthBytes) {
      callback(mismatch(`read ${this.seen} bytes of a part of ${this.lengthBytes}`, { expectedBytes: this.lengthBytes, seenBytes: this.seen }));
      return;
    }
    callback();
  }
}

/**
 * Bytes `first`..`last` (inclusive, positions within the file) of a file: one
 * ranged read of its blob, at the span's offset plus `first` for a member read
 * in place. The caller has bounded `last` by the recorded size, so a part can
 * never reach outside the file's span. Not hash-checked (only the whole file
 * has a recorded hash); the length is. Served only through readCheckedFilePart.
 */
export async function readFilePart(
  blobs: BlobStore,
  bytes: FileBytes,
  part: { first: number; last: number },
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ body: Readable; blobOffset: number; lengthBytes: number }> {
  const lengthBytes = part.last - part.first + 1;
  const blobOffset = (bytes.range?.offset ?? 0) + part.first;
  if (bytes.range && part.last >= bytes.range.length) {
    // Programming error, never the caller's: the route cuts the part to the recorded size first.
    throw new ExhibitError('invalid-argument', 'a part reaching past the file was asked for', { details: { ...part, sizeBytes: bytes.range.length } });
  }
  const source = await blobs.openRead(bytes.blob, { offset: blobOffset, count: lengthBytes, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
  return { body: checkedStream(source, new ExactLengthStream(lengthBytes)), blobOffset, lengthBytes };
}

/**
 * Why the file's SHA-256 may not have been checked for what a part sent:
 * - 'part-of-large-file': a part of a file over the bound, read alone; only its length is checked;
 * - 'unless-read-to-end': the whole file asked for as a part (`bytes=0-`) of a file over the bound, streamed
 *   through the hash check, which can only say anything at the end. A player that stops reading early (a
 *   browser starting a large video does, then asks for the part it wants) got bytes no hash check covered.
 *   The entry is written before the first byte, so it says so for every such part, not only the ones cut short.
 */
export type HashNotChecked = 'part-of-large-file' | 'unless-read-to-end';

export interface CheckedFilePart {
  body: Buffer | Readable;
  /** Where the part starts in its blob (the span's offset plus `first` for a member read in place). */
  blobOffset: number;
  lengthBytes: number;
  /** The whole file matched its recorded size and SHA-256 before the part's first byte was sent. */
  verifiedBeforeSend: boolean;
  /**
   * Set when the file's SHA-256 may not have been checked for the bytes this part sends: never checked
   * ('part-of-large-file'), or checked only once the last byte has gone ('unless-read-to-end').
   */
  hashNotChecked?: HashNotChecked;
  /** Set when this request read the whole span from one blob version and it hashed as recorded: for the caller to remember once recorded. */
  pinned?: PinnedVerification;
  /**
   * Set when this request did not hash the file: the part was one ranged read on the word of a record
   * that the span, at this blob ETag, matched its SHA-256 at `verifiedAtMs` in this case (verified-spans.ts),
   * as the entry with `verificationId` in this evidence item's log says; the read was conditioned on that
   * ETag, so it gave those bytes or nothing.
   */
  verifiedEarlier?: { verifiedAtMs: number; etag: string; verificationId: string };
}

/** All of `source`, which must be exactly `lengthBytes` (else 'hash-mismatch', as ExactLengthStream says). */
async function readExactly(source: Readable, lengthBytes: number): Promise<Buffer> {
  const exact = new ExactLengthStream(lengthBytes);
  const chunks: Buffer[] = [];
  exact.on('data', (c: Buffer) => chunks.push(c));
  await pipeline(source, exact);
  return Buffer.concat(chunks);
}

/**
 * The part as one ranged read, when the record says the whole span was verified at a blob ETag within
 * its TTL: read with If-Match on that ETag, into memory (at most the file, which a part of a file up to
 * verifyBeforeSendBytes is held as anyway), so a disagreement is known before any byte is sent. A
 * disagreement (the blob changed: 412; it is gone; a length other than asked) drops the record and
 * answers null: the caller verifies the whole file again, and a mismatch is then the usual failure.
 */
async function readPartOnRecord(
  blobs: BlobStore,
  bytes: FileBytes,
  expected: ExpectedBytes,
  part: { first: number; last: number },
  spanRecord: SpanRecord,
  abortSignal: AbortSignal | undefined,
): Promise<CheckedFilePart | null> {
  const spans = spanRecord.spans;
  const key = spanKeyOf(spanRecord, bytes, expected);
  const record = spans.lookup(key);
  if (!record) return null;
  const blobOffset = key.offset + part.first;
  const lengthBytes = part.last - part.first + 1;
  try {
    const source = await blobs.openRead(bytes.blob, { offset: blobOffset, count: lengthBytes, ifMatch: record.etag, ...(abortSignal ? { abortSignal } : {}) });
    const body = await readExactly(source, lengthBytes);
    return { body, blobOffset, lengthBytes, verifiedBeforeSend: true, verifiedEarlier: { verifiedAtMs: record.verifiedAtMs, etag: record.etag, verificationId: record.verificationId } };
  } catch (err) {
    if (!isCode(err, 'precondition-failed', 'not-found', 'hash-mismatch')) throw err;
    spans.forget(key);
    return null;
  }
}

/**
 * Bytes `first`..`last` (inclusive) of a file, checked as far as a part can be:
 *
 * - the whole file asked for as a part (`bytes=0-`, how a browser's <video>
 *   starts): readVerifiedFile, as a whole download is sent;
 * - any part of a file up to `verifyBeforeSendBytes` (VERIFY_BEFORE_SEND_BYTES,
 *   16 MiB): the whole file is read and checked, then the part is cut from it,
 *   so a file that does not hash as recorded gives no byte, in part or whole.
 *   The bound is the one a whole download already holds in memory. With a
 *   record of verified spans (`spanRecord`), that read is pinned to the
 *   blob's ETag (`pinned`, which the caller records once its custody entry
 *   is written), and a later part of the same span within the
 *   record's TTL is one ranged read conditioned on that ETag (`verifiedEarlier`)
 *   instead of another read of the whole file per seek;
 * - a part of a larger file: one ranged read of the part, its length checked
 *   only (`hashNotChecked`). Checking it would mean reading the whole file for
 *   every seek of a player; the whole download stays the verified copy.
 */
export async function readCheckedFilePart(
  blobs: BlobStore,
  bytes: FileBytes,
  expected: ExpectedBytes,
  part: { first: number; last: number },
  options: { abortSignal?: AbortSignal; verifyBeforeSendBytes?: number; spanRecord?: SpanRecord } = {},
): Promise<CheckedFilePart> {
  if (part.first < 0 || part.last < part.first || part.last >= expected.length) {
    // Programming error, never the caller's: decideRange cuts the part to the recorded size.
    throw new ExhibitError('invalid-argument', 'a part outside the file was asked for', { details: { ...part, sizeBytes: expected.length } });
  }
  const verifyBeforeSendBytes = options.verifyBeforeSendBytes ?? VERIFY_BEFORE_SEND_BYTES;
  const blobOffset = (bytes.range?.offset ?? 0) + part.first;
  const lengthBytes = part.last - part.first + 1;
  if (part.first === 0 && part.last === expected.length - 1) {
    const { body, pinned } = await readVerifiedWhole(blobs, bytes, expected, { ...options, verifyBeforeSendBytes });
    if (Buffer.isBuffer(body)) return { body, blobOffset, lengthBytes, verifiedBeforeSend: true, ...(pinned ? { pinned } : {}) };
    return { body, blobOffset, lengthBytes, verifiedBeforeSend: false, hashNotChecked: 'unless-read-to-end' };
  }
  if (expected.length <= verifyBeforeSendBytes) {
    if (options.spanRecord) {
      const onRecord = await readPartOnRecord(blobs, bytes, expected, part, options.spanRecord, options.abortSignal);
      if (onRecord) return onRecord;
    }
    const { whole, pinned } = await readWholeChecked(blobs, bytes, expected, options);
    return { body: whole.subarray(part.first, part.last + 1), blobOffset, lengthBytes, verifiedBeforeSend: true, ...(pinned ? { pinned } : {}) };
  }
  const ranged = await readFilePart(blobs, bytes, part, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  return { body: ranged.body, blobOffset, lengthBytes, verifiedBeforeSend: false, hashNotChecked: 'part-of-large-file' };
}

/**
 * A Content-Disposition that survives any file name: an ASCII fallback plus RFC 5987 UTF-8.
 * `inline` only for media played in the page (media-playback.ts), never for a download, and
 * with no file name: a browser that cannot play the type saves an inline response instead,
 * and would save it under the evidence's own name and extension (`page.html`, served as
 * video/webm) as a file the user's system then opens by that extension.
 */
export function contentDisposition(fileName: string, disposition: 'attachment' | 'inline' = 'attachment'): string {
  if (disposition === 'inline') return 'inline';
  const cleaned = fileName.replace(/[\x00-\x1f\x7f/\\]/g, '_') || 'file';
  const ascii = cleaned.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  const encoded = encodeURIComponent(cleaned).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
