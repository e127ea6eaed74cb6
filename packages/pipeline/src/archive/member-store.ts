import { Readable } from 'node:stream';
import { derivedNames, ExhibitError, type BlobStore, type ContentSource, type Hashes } from '@exhibit/core';
import { ParallelHasher } from '../multi-hash.js';
import { archiveLimitError } from './archive-reader.js';

/** Bytes expanded so far from one archive, shared by all its members. */
export interface ExpansionBudget {
  expandedBytes: number;
  readonly maxExpandedBytes: number;
  /**
   * The evidence item's budget across every archive and nesting level
   * (EvidenceBudget): bytes are taken from it before they are expanded or
   * written to derived/, so neither total can pass its maximum.
   */
  evidence?: { take(counter: 'expandedBytes' | 'writtenBytes', amount: number): Promise<void> };
}

export interface StoredMember {
  hashes: Hashes;
  size: number;
  /** Where the member's bytes are now: its derived blob, or its span of the archive (`inPlace`). */
  blob: ContentSource;
  /**
   * Settles once the content is in storage. A buffered member's upload runs
   * on after storeMember returns, so the caller can read the next member
   * meanwhile; it must await this before anything refers to the blob.
   */
  uploaded: Promise<void>;
  /** The member's bytes, when asked for (`keepBytesUpTo`) and no larger: for the member-bytes cache. */
  bytes?: Buffer;
}

export interface StoreMemberOptions {
  /** The derived container; members are stored there under derivedNames.content(sha256). */
  container: string;
  /** Where a member too large to buffer is staged while it is hashed. */
  stagingName: string;
  /** Stored size the archive declares, for the compression-ratio guard; null when unknown (TAR). */
  compressedSize: number | null;
  /** From LIMITS / StageDeps.limits. */
  limits: { maxMemberBytes: number; maxBufferedMemberBytes: number; maxCompressionRatio: number; compressionRatioMinBytes: number };
  budget: ExpansionBudget;
  /** For messages, e.g. `entry 12`. */
  label: string;
  /**
   * The member's bytes already lie in storage, `length` bytes of `source` (a
   * ZIP member stored uncompressed): they are hashed and counted as usual but
   * nothing is written. If the stream does not yield exactly `length` bytes
   * the member is 'corrupt-file'.
   */
  inPlace?: { source: ContentSource; length: number };
  /**
   * Return the member's bytes (StoredMember.bytes) when it is at most this
   * large, for the member-bytes cache: a buffered member's are those uploaded
   * (no copy); an in-place member's are gathered as they are hashed. Members
   * too large to buffer are not kept.
   */
  keepBytesUpTo?: number;
  abortSignal?: AbortSignal;
}

/**
 * Hashes one member while storing it content-addressed. Bytes are counted as
 * they flow; declared sizes are never trusted. Small members are buffered and
 * uploaded once (if not already there), in the background (see
 * StoredMember.uploaded); larger ones stream to a staging blob
 * and are then copied server-side to their content name, so memory stays
 * bounded by maxBufferedMemberBytes plus the upload's block buffers.
 *
 * Errors: ExhibitError 'limit-exceeded' (member; with details.scope 'archive'
 * when the archive-wide budget ran out), whatever the member stream reports
 * ('corrupt-file', ...), or a retryable storage fault.
 */
export async function storeMember(blobs: BlobStore, member: Readable, options: StoreMemberOptions): Promise<StoredMember> {
  const hasher = new ParallelHasher();
  try {
    return await hashAndStore(blobs, member, options, hasher);
  } catch (err) {
    hasher.dispose();
    throw err;
  }
}

async function hashAndStore(blobs: BlobStore, member: Readable, options: StoreMemberOptions, hasher: ParallelHasher): Promise<StoredMember> {
  const { limits, budget, label } = options;
  const signal = options.abortSignal ? { abortSignal: options.abortSignal } : {};

  async function* counted(): AsyncGenerator<Buffer> {
    for await (const chunk of member) {
      const buf = chunk as Buffer;
      budget.expandedBytes += buf.length;
      await budget.evidence?.take('expandedBytes', buf.length);
      if (hasher.bytes + buf.length > limits.maxMemberBytes) {
        throw new ExhibitError('limit-exceeded', `${label}: larger than maxMemberBytes (${limits.maxMemberBytes} bytes)`);
      }
      if (budget.expandedBytes > budget.maxExpandedBytes) {
        throw archiveLimitError(`archive expands beyond maxArchiveExpandedBytes (${budget.maxExpandedBytes} bytes); stopped at ${label}`);
      }
      await hasher.update(buf);
      const size = hasher.bytes;
      if (
        options.compressedSize !== null &&
        size > limits.compressionRatioMinBytes &&
        size > limits.maxCompressionRatio * Math.max(options.compressedSize, 1)
      ) {
        throw new ExhibitError(
          'limit-exceeded',
          `${label}: expands beyond ${limits.maxCompressionRatio}:1 (${size} bytes from ${options.compressedSize}); treated as a decompression bomb`,
        );
      }
      yield buf;
    }
  }

  const chunks = counted();
  const keepUpTo = options.keepBytesUpTo ?? -1;
  if (options.inPlace) {
    // Copied as they flow into one buffer of the recorded length (no second copy at the end);
    // kept only if the stream filled it exactly, which the check below requires anyway.
    let kept = options.inPlace.length <= keepUpTo ? Buffer.alloc(options.inPlace.length) : null;
    let keptBytes = 0;
    for (;;) {
      const next = await chunks.next();
      if (next.done) break;
      if (kept && keptBytes + next.value.length <= kept.length) next.value.copy(kept, keptBytes);
      else kept = null;
      keptBytes += next.value.length;
    }
    if (hasher.bytes !== options.inPlace.length) {
      throw new ExhibitError('corrupt-file', `${label}: ${hasher.bytes} bytes read where the archive records ${options.inPlace.length}`);
    }
    const bytes = kept && keptBytes === kept.length ? { bytes: kept } : {};
    return { hashes: await hasher.digest(), size: hasher.bytes, blob: options.inPlace.source, uploaded: Promise.resolve(), ...bytes };
  }
  const buffered: Buffer[] = [];
  let bufferedBytes = 0;
  for (;;) {
    const next = await chunks.next();
    if (next.done) {
      const hashes = await hasher.digest();
      const blob = { container: options.container, name: derivedNames.content(hashes.sha256) };
      await budget.evidence?.take('writtenBytes', bufferedBytes);
      const whole = Buffer.concat(buffered, bufferedBytes);
      const uploaded = blobs.upload(blob, whole, { ifNotExists: true, ...signal }).then(() => undefined);
      // Awaited by the caller; until then a failure must not count as unhandled.
      uploaded.catch(() => undefined);
      return { hashes, size: bufferedBytes, blob, uploaded, ...(bufferedBytes <= keepUpTo ? { bytes: whole } : {}) };
    }
    buffered.push(next.value);
    bufferedBytes += next.value.length;
    if (bufferedBytes > limits.maxBufferedMemberBytes) break;
  }

  // Too large to buffer: stream the rest to a staging blob while hashing.
  const staging = { container: options.container, name: options.stagingName };
  let failure: unknown;
  const body = Readable.from(
    (async function* () {
      try {
        while (buffered.length > 0) {
          const chunk = buffered.shift()!;
          await budget.evidence?.take('writtenBytes', chunk.length);
          yield chunk;
        }
        for (;;) {
          const next = await chunks.next();
          if (next.done) return;
          await budget.evidence?.take('writtenBytes', next.value.length);
          yield next.value;
        }
      } catch (err) {
        failure = err;
        throw err;
      }
    })(),
  );
  try {
    // Overwrites a staging blob left by an earlier, interrupted attempt.
    await blobs.upload(staging, body, signal);
  } catch (err) {
    // Stop reading: the member stream ends, the generator with it.
    body.destroy();
    member.destroy();
    await blobs.delete(staging).catch(() => undefined);
    throw failure ?? err;
  }
  if (failure !== undefined) {
    await blobs.delete(staging).catch(() => undefined);
    throw failure;
  }
  const hashes = await hasher.digest();
  const blob = { container: options.container, name: derivedNames.content(hashes.sha256) };
  await blobs.copy(staging, blob, { ifNotExists: true, ...signal });
  await blobs.delete(staging, signal);
  return { hashes, size: hasher.bytes, blob, uploaded: Promise.resolve() };
}
