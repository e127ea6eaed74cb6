import { PassThrough, Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ExhibitError, errorMessage, type ArchiveTimes, type BlobRef, type BlobStore, type EntryKind, type FileFlag } from '@exhibit/core';
import { abortError, archiveLimitError, asArchiveError, ENTRIES_PER_TURN, nextTurn, type ArchiveEntry, type ArchiveReader } from './archive-reader.js';
import { decimalSecondsTime, utcTime } from './archive-times.js';
import { analyseEntryName, decodeRecordedBytes, DuplicateNameTracker } from './entry-name.js';

export interface TarReaderOptions {
  gzip: boolean;
  etag?: string;
  /** The archive is `size` bytes of the blob from `offset` (a TAR stored inside a ZIP, read in place). */
  span?: { offset: number; size: number };
  maxEntryNameBytes: number;
  /** Whole-stream bomb guard for tar.gz: expanded/compressed beyond this fails the archive... */
  maxCompressionRatio: number;
  /** ...once more than this many bytes have been expanded. */
  compressionRatioMinBytes: number;
  abortSignal?: AbortSignal;
}

/** What tar-stream gives us per header (after PAX and GNU long names are applied). */
interface TarHeader {
  name: string;
  size?: number;
  mtime?: Date;
  type?: string | null;
  linkname?: string | null;
  pax?: Record<string, string> | null;
}

/** A tar-stream entry stream (streamx); only what we use of it. */
interface TarEntryStream {
  header: TarHeader;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

const KIND_BY_TYPE: Record<string, EntryKind> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'device',
  'block-device': 'device',
  fifo: 'fifo',
};

/**
 * TAR and TAR.GZ, streamed front to back from the blob. Entries must be taken
 * in order: before the next entry is produced, whatever is left of the
 * previous entry's data is read and discarded (never destroyed: destroying a
 * tar-stream entry aborts the whole archive).
 */
export async function openTarReader(blobs: BlobStore, blob: BlobRef, options: TarReaderOptions): Promise<ArchiveReader> {
  return new TarReader(blobs, blob, options);
}

class TarReader implements ArchiveReader {
  readonly format: 'tar' | 'tar.gz';
  private readonly duplicates = new DuplicateNameTracker();
  private extract: tar.Extract | undefined;
  private source: Readable | undefined;

  constructor(
    private readonly blobs: BlobStore,
    private readonly blob: BlobRef,
    private readonly options: TarReaderOptions,
  ) {
    this.format = options.gzip ? 'tar.gz' : 'tar';
  }

  async *entries(options: { abortSignal?: AbortSignal } = {}): AsyncIterable<ArchiveEntry> {
    const signal = options.abortSignal ?? this.options.abortSignal;
    const source = await this.blobs.openRead(this.blob, {
      ...(this.options.span ? { offset: this.options.span.offset, count: this.options.span.size } : {}),
      ...(this.options.etag ? { ifMatch: this.options.etag } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    });
    this.source = source;
    // latin1 keeps header names as raw bytes (one char per byte); we decode them ourselves.
    // (tar-stream's own typings omit its extract options.)
    const extractOptions = { filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tar.extract>[0];
    const extract = tar.extract(extractOptions);
    this.extract = extract;
    const fail = (err: ExhibitError) => (extract as unknown as { destroy(e: Error): void }).destroy(err);

    source.on('error', (err) => fail(storageError(err, this.blob)));
    let input: Readable = source;
    if (this.options.gzip) {
      const gunzip = createGunzip();
      gunzip.on('error', (err) =>
        fail(isEndOfData(err) ? truncatedError(`gzip: the compressed stream ends early (${errorMessage(err)})`, err) : new ExhibitError('corrupt-file', `gzip: ${errorMessage(err)}`, { cause: err })),
      );
      const guard = this.ratioGuard(source);
      guard.on('error', (err) => fail(err as ExhibitError));
      source.pipe(gunzip).pipe(guard);
      input = guard;
    }
    input.pipe(extract);
    // A deadline or shutdown ends the read wherever it waits: the iterator and the open member both fail.
    const onAbort = () => fail(abortError(signal));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const iterator = (extract as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    let index = 0;
    try {
      for (;;) {
        if (index > 0 && index % ENTRIES_PER_TURN === 0) await nextTurn();
        const next = await iterator.next();
        if (next.done) return;
        if (signal?.aborted) throw abortError(signal);
        const current = this.describe(next.value as TarEntryStream, index);
        yield current.entry;
        index += 1;
        // Before the next header can be parsed, this entry's data must be gone.
        await current.skipRest();
      }
    } catch (err) {
      if (err instanceof ExhibitError) throw err;
      // tar-stream's word for a size that is negative, base-256 negative or not a number.
      if (/^invalid header$/i.test(errorMessage(err))) {
        throw new ExhibitError('corrupt-file', `${this.format}: entry ${index} declares an impossible size (negative or unreadable); the rest of the archive cannot be located`, {
          cause: err,
          details: { reason: 'corrupt' },
        });
      }
      if (isEndOfData(err)) throw truncatedError(`${this.format}: the archive ends inside a header or member (${errorMessage(err)})`, err);
      // A first header that does not parse means the stream is not a tar at all.
      if (index === 0 && /invalid tar header/i.test(errorMessage(err))) {
        throw new ExhibitError('unsupported-format', `${this.format}: not a tar archive (${errorMessage(err)})`, { cause: err });
      }
      throw asArchiveError(err, this.format);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await iterator.return?.().catch(() => undefined);
    }
  }

  /** Counts compressed bytes in and expanded bytes out; a stream far beyond the ratio is a bomb. */
  private ratioGuard(compressedSource: Readable): Transform {
    let compressed = 0;
    compressedSource.on('data', (chunk: Buffer) => {
      compressed += chunk.length;
    });
    let expanded = 0;
    const { maxCompressionRatio, compressionRatioMinBytes } = this.options;
    return new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
        expanded += chunk.length;
        if (expanded > compressionRatioMinBytes && expanded > maxCompressionRatio * Math.max(compressed, 1)) {
          callback(archiveLimitError(`tar.gz expands beyond ${maxCompressionRatio}:1 (${expanded} bytes from ${compressed}); treated as a decompression bomb`));
          return;
        }
        callback(null, chunk);
      },
    });
  }

  private describe(stream: TarEntryStream, index: number): { entry: ArchiveEntry; skipRest(): Promise<void> } {
    const header = stream.header;
    const decoded = decodeName(header.name, header.pax?.['path'] !== undefined);
    const name = analyseEntryName(decoded.text, {
      maxNameBytes: this.options.maxEntryNameBytes,
      validEncoding: decoded.validEncoding,
      entryIndex: index,
    });
    const kind = (header.type && KIND_BY_TYPE[header.type]) || 'other';
    if (header.size !== undefined && header.size !== null && !(Number.isSafeInteger(header.size) && header.size >= 0)) {
      // A negative, base-256 negative or unreadable size: where the next header starts cannot be known.
      throw new ExhibitError('corrupt-file', `tar entry ${index} declares an impossible size (${String(header.size)}); the rest of the archive cannot be located`, {
        details: { reason: 'corrupt' },
      });
    }
    const declaredSize = typeof header.size === 'number' && Number.isFinite(header.size) ? header.size : null;
    const flags = new Set<FileFlag>(name.flags);
    if (kind === 'symlink' || kind === 'hardlink') flags.add('link');
    if (kind === 'device') flags.add('device');
    const duplicateOf = this.duplicates.check(name.displayPath, index);
    if (duplicateOf !== undefined) flags.add('duplicate-name');

    // Listen from the start: a fully read entry may end, or the archive fail under it, before anyone asks.
    const state: EntryState = { ended: false, closed: false, error: undefined };
    const settled = new Promise<void>((resolve) => {
      stream.on('end', () => {
        state.ended = true;
        resolve();
      });
      stream.on('close', () => {
        state.closed = true;
        resolve();
      });
      stream.on('error', (err) => {
        state.error = err;
        resolve();
      });
    });
    let member: Readable | undefined;
    const entry: ArchiveEntry = {
      index,
      recordedName: name.recordedName,
      displayPath: name.displayPath,
      name: name.name,
      extension: name.extension,
      kind,
      declaredSize,
      compressedSize: null,
      times: tarTimes(header),
      flags: [...flags],
      ...(duplicateOf !== undefined ? { duplicateOf } : {}),
      encrypted: false,
      open: async () => {
        if (kind !== 'file') throw new ExhibitError('invalid-argument', `tar entry ${index} is a ${kind}, it has no content`);
        if (member) throw new ExhibitError('invalid-argument', `tar entry ${index} was already opened; tar is read once, in order`);
        member = memberStream(stream, index, state, declaredSize, header.pax?.['size'] !== undefined);
        return member;
      },
    };
    if ((kind === 'symlink' || kind === 'hardlink') && header.linkname) {
      entry.linkTarget = decodeName(header.linkname, header.pax?.['linkpath'] !== undefined).text;
    }
    const skipRest = async () => {
      // tar-stream never attaches data to a directory entry, so its stream would never end.
      if (header.type === 'directory') return;
      member?.destroy();
      stream.resume();
      await settled;
    };
    return { entry, skipRest };
  }

  async close(): Promise<void> {
    this.source?.destroy();
    const extract = this.extract as unknown as { destroyed?: boolean; destroy(): void } | undefined;
    if (extract && !extract.destroyed) extract.destroy();
  }
}

/** Header names arrive as latin1 (raw bytes); PAX names are already UTF-8 text. */
function decodeName(text: string, fromPax: boolean) {
  if (fromPax) return { text, validEncoding: !text.includes('\ufffd') };
  return decodeRecordedBytes(Buffer.from(text, 'latin1'), 'unknown');
}

function tarTimes(header: TarHeader): ArchiveTimes {
  const times: ArchiveTimes = {};
  const pax = header.pax ?? {};
  const modified =
    (pax['mtime'] !== undefined ? decimalSecondsTime(pax['mtime'], 'tar:pax') : undefined) ??
    (header.mtime ? utcTime(header.mtime.getTime(), 'tar:header') : undefined);
  if (modified) times.modified = modified;
  const accessed = pax['atime'] !== undefined ? decimalSecondsTime(pax['atime'], 'tar:pax') : undefined;
  if (accessed) times.accessed = accessed;
  // POSIX ctime is the inode change time, not creation.
  const changed = pax['ctime'] !== undefined ? decimalSecondsTime(pax['ctime'], 'tar:pax') : undefined;
  if (changed) times.changed = changed;
  return times;
}

interface EntryState {
  ended: boolean;
  closed: boolean;
  error: Error | undefined;
}

/**
 * Hands the entry's data to the consumer with backpressure. If the consumer
 * stops early, the rest is discarded by resuming the entry, so the archive
 * can move on to the next header.
 *
 * The entry may already be over when it is opened: when the archive ends
 * inside this member (a header declaring 8 GiB followed by 1 KiB), tar-stream
 * destroys the entry as soon as the input ends, which can be before the
 * consumer gets round to opening it. Listeners attached after that never
 * fire, and the member (and the whole unpack) used to wait forever. So the
 * entry's state is tracked from its header on, and an entry that closed
 * without ending is a truncated member.
 */
function memberStream(entry: TarEntryStream, index: number, state: EntryState, declaredSize: number | null, sizeFromPax: boolean): Readable {
  const out = new PassThrough();
  const truncated = (cause?: Error) =>
    truncatedError(
      `tar entry ${index} ends before its declared ${declaredSize ?? '?'} bytes${sizeFromPax ? ' (a size from a PAX record, overriding its header)' : ''} (the archive is truncated)`,
      cause,
    );
  if (state.error || (state.closed && !state.ended)) {
    out.destroy(state.error && !isEndOfData(state.error) ? asArchiveError(state.error, `tar entry ${index}`) : truncated(state.error));
    return out;
  }
  let finished = false;
  entry.on('data', (chunk: Buffer) => {
    if (out.destroyed) return;
    if (!out.write(chunk)) {
      entry.pause();
      out.once('drain', () => entry.resume());
    }
  });
  entry.on('end', () => {
    finished = true;
    out.end();
  });
  entry.on('error', (err: Error) => {
    finished = true;
    out.destroy(isEndOfData(err) ? truncated(err) : asArchiveError(err, `tar entry ${index}`));
  });
  entry.on('close', () => {
    // Closed without its end: the archive was cut off (or destroyed) under it.
    if (!finished) {
      finished = true;
      out.destroy(truncated());
    }
  });
  out.on('close', () => {
    if (!finished) entry.resume();
  });
  return out;
}

/** tar-stream's and zlib's words for an input that stops too early. */
function isEndOfData(err: unknown): boolean {
  return /unexpected end of (data|file)|premature close/i.test(errorMessage(err));
}

export function truncatedError(message: string, cause?: unknown): ExhibitError {
  return new ExhibitError('corrupt-file', message, { ...(cause !== undefined ? { cause } : {}), details: { reason: 'truncated' } });
}

function storageError(err: unknown, blob: BlobRef): ExhibitError {
  if (err instanceof ExhibitError) return err;
  return new ExhibitError('storage-unavailable', `read ${blob.container}/${blob.name}: ${errorMessage(err)}`, { cause: err });
}
