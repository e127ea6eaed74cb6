import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import tar from 'tar-stream';
import { ExhibitError, errorMessage, type ArchiveTimes, type EntryKind, type FileFlag } from '@exhibit/core';
import type { TaskHandler } from '@exhibit/core/worker-runtime';
import { archiveLimitError, asArchiveError } from './archive-reader.js';
import { decimalSecondsTime, utcTime } from './archive-times.js';
import { addOldGnuSparseExtension, expandSparse, isOldGnuSparseHeader, oldGnuSparseHeader, sparseMemberOf, type OldGnuSparse } from './gnu-sparse.js';
import { GzipMembers } from './gzip-members.js';
import type { TarListInput, TarListResult, WireArchiveEntry } from './archive.tasks.js';
import { analyseEntryName, decodeRecordedBytes } from './entry-name.js';
import { sendMemberData } from './member-data.sender.js';
import { ThreadLink } from './thread-link.js';

/**
 * The TAR and TAR.GZ parser, in an archive parser thread (archive.worker.ts;
 * the main thread's side is tar.reader.ts): tar-stream, gunzip and the
 * whole-stream bomb guard, fed with the archive's bytes piece by piece as
 * the main thread reads them from the blob ('feed'). Entries and member
 * chunks go to the main thread one at a time, each answered before the next
 * is made. Entries are taken in order: before the next entry is produced,
 * whatever is left of the previous entry's data is read and discarded (never
 * destroyed: destroying a tar-stream entry aborts the whole archive).
 */

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

/** The typeflag of a GNU incremental dump's directory ('D'). */
const GNU_DUMPDIR = 0x44;

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

/** Lists the archive front to back, sending a member's bytes when the main thread opens it. */
async function listTar(link: ThreadLink, input: TarListInput): Promise<TarListResult> {
  const findings: TarListResult['findings'] = [];
  const format = input.gzip ? 'tar.gz' : 'tar';
  // The archive's bytes, asked for only when tar-stream (or gunzip) wants more.
  const source = new Readable({
    highWaterMark: 0,
    read() {
      link.feed().then(
        (bytes) => this.push(bytes),
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
  // latin1 keeps header names as raw bytes (one char per byte); we decode them ourselves.
  // (tar-stream's own typings omit its extract options.)
  const extractOptions = { filenameEncoding: 'latin1', allowUnknownFormat: true } as Parameters<typeof tar.extract>[0];
  const extract = tar.extract(extractOptions);
  // Before watchHeaderBlocks: it must see the header blocks as tar-stream takes them, not the extension blocks taken here.
  readOldGnuSparse(extract);
  const lastHeader = watchHeaderBlocks(extract);
  const endMarker = watchEndMarker(extract, lastHeader);
  keepRawPaxNames(extract);
  const fail = (err: ExhibitError) => (extract as unknown as { destroy(e: Error): void }).destroy(err);
  let piped: Readable = source;
  // A damaged gzip stream does not fail the pipe: its output ends after every byte it inflated, the tar
  // parser records what is complete, and then the archive stops with the gzip's own reason.
  let gunzip: GzipMembers | null = null;
  if (input.gzip) {
    gunzip = new GzipMembers();
    gunzip.on('error', (err) => fail(asArchiveError(err, 'gzip')));
    const guard = ratioGuard(source, input);
    guard.on('error', (err) => fail(err as ExhibitError));
    source.pipe(gunzip).pipe(guard);
    piped = guard;
  }
  piped.pipe(extract);
  const result = (): TarListResult => {
    if ((gunzip?.trailingData || endMarker.headersAfterIt) && !findings.includes('archive-trailing-data')) findings.push('archive-trailing-data');
    return { findings };
  };

  const iterator = (extract as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let index = 0;
  const sent = new EntryEnds();
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        if (gunzip?.error) throw gzipFailure(gunzip, sent);
        return result();
      }
      const stream = next.value as TarEntryStream;
      const extensionBytes = (stream.header as TarHeader & { extensionBytes?: number }).extensionBytes ?? 0;
      sent.add(index, headerDataOffset(stream) + extensionBytes + (stream.header.size ?? 0), gunzip?.memberStart ?? 0);
      // The header block tar-stream decoded for this entry (it starts 512 bytes before the entry's data).
      const ownBlock = lastHeader.start !== null && lastHeader.start === headerDataOffset(stream) - 512;
      // A member cut off because the gzip stream failed under it fails with the gzip's reason (a bad CRC is no cut archive).
      const gzipCause = () => (gunzip?.error ? gzipFailure(gunzip, sent) : null);
      const current = describe(stream, index, input, globalPax(extract), ownBlock ? lastHeader.mtime : null, ownBlock ? lastHeader.typeflag : null, gzipCause);
      // Entries before the first whose data ends past where the gzip member being read began are made of members that
      // passed their checks (a member's start moves on only once the previous one's trailer checked out).
      if (gunzip) current.entry.checkedBefore = sent.firstEndingAfter(gunzip.memberStart) ?? index + 1;
      const answer = await link.ask({ t: 'entry', entry: current.entry });
      if (answer.op === 'end') return { findings };
      if (answer.op === 'open' && current.entry.kind === 'file') {
        const opened = await link.ask({ t: 'opened' });
        if (opened.op === 'end') return { findings };
        // Made only now, read at once: a member already over (or failed) must have its reader before its error is emitted.
        if (opened.op === 'more' && !(await sendMemberData(link, current.open(), `tar entry ${index}`))) return { findings };
      }
      index += 1;
      // Before the next header can be parsed, this entry's data must be gone.
      await current.skipRest();
    }
  } catch (err) {
    if (err instanceof ExhibitError) throw err;
    // Bytes that are no header after a zero block in header position: the archive had ended (GNU tar and
    // Python's tarfile stop at the end-of-archive marker and ignore what follows; tar-stream reads on).
    // Fewer than 512 such bytes are no header at all: tar-stream says the data ended early, though no member is missing any.
    const endedBefore = (/invalid tar header/i.test(errorMessage(err)) || (isEndOfData(err) && noMemberMissingBytes(extract))) && afterEndMarker(extract);
    // A gzip failure (bad CRC, cut stream) only in gzip members after the tar's end: the members holding every entry
    // and the end-of-archive marker (two zero blocks) passed their trailers; the failed bytes all lie after the tar,
    // trailing data as they were (tgz-junk-then-failed-later-gzip-member-leaves-members-unverified). A failed member
    // holding any of the tar itself, the marker included, still fails the archive.
    const onlyAfterEntries = () =>
      gunzip !== null && endMarker.markerAt !== null && gunzip.verifiedEnd >= endMarker.markerAt + 1024 && sent.firstEndingAfter(gunzip.verifiedEnd) === null;
    // The tar ended early because the gzip stream did: the gzip says why.
    if (gunzip?.error && !(endedBefore && onlyAfterEntries())) throw gzipFailure(gunzip, sent);
    if (endedBefore) {
      findings.push('archive-trailing-data');
      // Bytes after the end marker inside a gzip member: that member's trailer is still ahead, and the members held
      // for it were released as if read to a clean end, never checked (tgz-junk-after-end-marker-releases-held-members).
      // The rest of the gzip stream is read (and dropped) through the bomb guard, under the step budget, so its
      // trailer is judged: a bad CRC fails the members it holds, a cut stream is a stop before the trailer.
      if (gunzip && !gunzip.error) {
        try {
          await drain(piped);
        } catch (drainErr) {
          if (!gunzip.error) throw drainErr;
        }
        if (gunzip.error && !onlyAfterEntries()) throw gzipFailure(gunzip, sent);
      }
      return result();
    }
    // tar-stream's word for a size that is negative, base-256 negative or not a number.
    if (/^invalid header$/i.test(errorMessage(err))) {
      throw new ExhibitError('corrupt-file', `${format}: entry ${index} declares an impossible size (negative or unreadable); the rest of the archive cannot be located`, {
        cause: err,
        details: { reason: 'corrupt' },
      });
    }
    if (isEndOfData(err)) throw truncatedError(`${format}: the archive ends inside a header or member (${errorMessage(err)})`, err);
    // A first header that does not parse means the stream is not a tar at all.
    if (index === 0 && /invalid tar header/i.test(errorMessage(err))) {
      throw new ExhibitError('unsupported-format', `${format}: not a tar archive (${errorMessage(err)})`, { cause: err });
    }
    throw asArchiveError(err, format);
  } finally {
    await iterator.return?.().catch(() => undefined);
    source.destroy();
  }
}

/**
 * Where the data of the entries handed over ends in the tar stream (the gzip
 * output), for those whose bytes may come from the gzip member being read:
 * a gzip member checks its bytes (CRC-32, size) only after the last of them,
 * by which time the entries made of them have been handed over and recorded
 * (they are streamed: recording cannot wait for a trailer that may be the
 * whole archive away). Handing them to analyse does wait: unpack holds them
 * until a trailer passes them (`checkedBefore`). Most .tgz files are one gzip
 * member, so every member is held until the whole archive is read: analyse
 * starts after the unpack, and the member-bytes cache is not waited on while
 * members are held, so read-once via the cache is mostly lost for a big .tgz.
 * A trade-off for correctness. When that member then fails, every entry
 * ending inside it (or later) is named, so the stage can mark it failed as
 * a ZIP member with a bad CRC is; entries that end before it, in members
 * that passed, keep their status. Entries whose data ends before the current
 * gzip member began are dropped: memory stays within one gzip member's entries.
 */
class EntryEnds {
  private indexes: number[] = [];
  private ends: number[] = [];
  private head = 0;

  add(index: number, dataEnd: number, memberStart: number): void {
    while (this.head < this.ends.length && this.ends[this.head]! <= memberStart) this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.ends.length) {
      this.indexes = this.indexes.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
    this.indexes.push(index);
    // An offset tar-stream did not give: the entry may reach anywhere.
    this.ends.push(Number.isFinite(dataEnd) ? dataEnd : Number.POSITIVE_INFINITY);
  }

  /** The first entry handed over whose data ends past `offset`, or null when none does. */
  firstEndingAfter(offset: number): number | null {
    for (let i = this.head; i < this.ends.length; i += 1) if (this.ends[i]! > offset) return this.indexes[i]!;
    return null;
  }
}

/**
 * The gzip stream's failure, naming (details.unverifiedFromEntry) the first entry handed over whose bytes
 * come from the member that failed its check: that entry and all after it are unverified.
 */
function gzipFailure(gunzip: GzipMembers, sent: EntryEnds): ExhibitError {
  const error = gunzip.error!;
  const from = gunzip.failedMemberStart === null ? null : sent.firstEndingAfter(gunzip.failedMemberStart);
  if (from === null) return error;
  return new ExhibitError(error.code, error.message, { cause: error, details: { ...error.details, unverifiedFromEntry: from } });
}

/**
 * The raw mtime field of the last 512-byte block tar-stream took as a header,
 * and where that block starts. tar-stream decodes a negative base-256 number
 * one short and hands it over as a Date, so -1 arrives as -0, i.e. 0: the
 * epoch, indistinguishable from a recorded 0. The field itself is exact.
 */
function watchHeaderBlocks(extract: unknown): HeaderBlock {
  const last: HeaderBlock = { start: null, mtime: null, typeflag: null, zero: false };
  const buffer = (extract as { _buffer?: { shifted?: unknown; shift?: unknown } })._buffer;
  if (!buffer || typeof buffer.shift !== 'function' || typeof buffer.shifted !== 'number') return last;
  const shift = buffer.shift.bind(buffer) as (size: number) => Buffer | null;
  buffer.shift = (size: number) => {
    const start = buffer.shifted as number;
    const block = shift(size);
    if (size === 512 && block && block.length === 512) {
      last.start = start;
      last.mtime = Buffer.from(block.subarray(136, 148));
      last.typeflag = block[156]!;
      last.zero = block.every((byte) => byte === 0);
    }
    return block;
  };
  return last;
}

/** The last block tar-stream took as a header: where it starts, its raw mtime and type, whether it is all zeros. */
interface HeaderBlock {
  start: number | null;
  mtime: Buffer | null;
  typeflag: number | null;
  zero: boolean;
}

/**
 * Whether headers follow a zero block (the end-of-archive marker is two).
 * tar-stream reads on past the marker, as `tar -i` does, so members of a
 * second archive appended to the first (`cat a.tar b.tar`, or two tar.gz
 * concatenated) are listed; GNU tar and Python's tarfile stop at the marker
 * and never show them. They stay listed (nothing is lost), and the archive
 * gets the finding for bytes after its end.
 */
function watchEndMarker(extract: unknown, lastHeader: HeaderBlock): { headersAfterIt: boolean; markerAt: number | null } {
  const x = extract as ExtractInternals;
  const consumeHeader = x._consumeHeader.bind(x);
  const seen: { zeroBlock: boolean; headersAfterIt: boolean; markerAt: number | null } = { zeroBlock: false, headersAfterIt: false, markerAt: null };
  x._consumeHeader = () => {
    const previous = x._header;
    const at = x._buffer.shifted;
    const ok = consumeHeader();
    // A zero block: tar-stream took the 512 bytes from here as a header, and they are all zeros. Judged from
    // the bytes, not from tar-stream's state: readOldGnuSparse, waiting for extension blocks, has taken a
    // header block without tar-stream (its state then looked like a zero block's, by how the input was split).
    if (x._header === null && lastHeader.start === at && lastHeader.zero) {
      seen.zeroBlock = true;
      // Where (in the tar stream) the first zero block in header position starts: the end-of-archive marker.
      if (seen.markerAt === null && typeof at === 'number') seen.markerAt = at;
    }
    else if (x._header !== null && x._header !== previous && seen.zeroBlock) seen.headersAfterIt = true;
    return ok;
  };
  return seen;
}

/** PAX records whose values are names: kept as the bytes they were recorded as. */
const RAW_PAX_NAME_KEYS = ['path', 'linkpath', 'GNU.sparse.name'] as const;
type RawPaxNames = Partial<Record<(typeof RAW_PAX_NAME_KEYS)[number], Buffer>>;

/**
 * tar-stream decodes PAX records as UTF-8, so a name that is not UTF-8 (GNU
 * tar --format=posix writes a file name's own bytes, e.g. Latin-1 names from
 * an old file system or a Windows share, with hdrcharset=BINARY or without
 * it) arrived with U+FFFD for each such byte: different names collapsed into
 * one, the recorded bytes lost. The raw values of the name records are read
 * here from the same header data and attached to the entry's header
 * (`rawPaxNames`), to be decoded like a header's own name bytes.
 */
function keepRawPaxNames(extract: unknown): void {
  const x = extract as ExtractInternals;
  if (typeof x._decodeLongHeader !== 'function' || typeof x._applyLongHeaders !== 'function') {
    throw new Error('tar-stream internals changed: PAX names cannot be read as recorded');
  }
  const decodeLongHeader = x._decodeLongHeader.bind(x);
  const applyLongHeaders = x._applyLongHeaders.bind(x);
  let pending: RawPaxNames | null = null;
  x._decodeLongHeader = (buf: Buffer) => {
    decodeLongHeader(buf);
    // Like tar-stream's _pax, each PAX header replaces what the one before it left.
    if (x._header?.type === 'pax-header') pending = rawPaxNames(buf);
  };
  x._applyLongHeaders = () => {
    const raw = x._pax ? pending : null;
    pending = null;
    applyLongHeaders();
    if (raw && x._header) x._header.rawPaxNames = raw;
  };
}

/** The name records of PAX header data, as bytes ("<length> <key>=<value>\n", read as tar-stream reads them). */
function rawPaxNames(buf: Buffer): RawPaxNames {
  const out: RawPaxNames = {};
  let rest = buf;
  while (rest.length > 0) {
    const space = rest.indexOf(0x20);
    const length = space > 0 ? parseInt(rest.subarray(0, space).toString('latin1'), 10) : NaN;
    if (!(length > space + 1) || length > rest.length) break;
    const record = rest.subarray(space + 1, length - 1);
    const equals = record.indexOf(0x3d);
    if (equals < 0) break;
    const key = record.subarray(0, equals).toString('latin1');
    if ((RAW_PAX_NAME_KEYS as readonly string[]).includes(key)) out[key as keyof RawPaxNames] = Buffer.from(record.subarray(equals + 1));
    rest = rest.subarray(length);
  }
  return out;
}

/** tar-stream extractor internals patched here (readOldGnuSparse, watchEndMarker, keepRawPaxNames); none in its typings. */
interface ExtractInternals {
  _buffer: { buffered: number; shifted: number; _offset: number; queue: { peek(): Buffer | undefined }; shift(size: number): Buffer | null; push(buffer: Buffer): void };
  _locked: boolean;
  _pax: Record<string, string> | null;
  _header: (TarHeader & { oldGnuSparse?: OldGnuSparse; extensionBytes?: number; rawPaxNames?: RawPaxNames }) | null;
  _decodeLongHeader(buf: Buffer): void;
  _applyLongHeaders(): void;
  _consumeHeader(): boolean;
  _continueWrite(err: Error | null): void;
  _final(callback: (err?: Error | null) => void): void;
}

/**
 * Old GNU sparse members ('S'): when the header says extension blocks follow
 * (more than four map entries), they are taken out of the stream before
 * tar-stream decodes the header, so its count of the member's data (the
 * header's size: the stored bytes only) starts where the data does and the
 * next header is found where GNU tar finds it. The map (header and
 * extension blocks) is attached to the header tar-stream hands over; the
 * entry is read in a later turn, after this has returned.
 *
 * tar-stream decodes a header once 512 bytes are buffered; extension blocks
 * not yet arrived are awaited by asking for more input (as tar-stream does
 * itself), with the header held here, and an input that ends among them is a
 * truncated archive.
 */
function readOldGnuSparse(extract: unknown): void {
  const x = extract as ExtractInternals;
  const buffer = x._buffer;
  if (typeof x._consumeHeader !== 'function' || typeof buffer?.shift !== 'function' || typeof buffer.queue?.peek !== 'function') {
    throw new Error('tar-stream internals changed: old GNU sparse members cannot be read');
  }
  const shift = buffer.shift.bind(buffer);
  const consumeHeader = x._consumeHeader.bind(x);
  const final = x._final.bind(x);
  let pending: { start: number; header: Buffer; sparse: OldGnuSparse; blocks: number } | null = null;
  const consume = (sparse: OldGnuSparse, extensionBlocks: number): boolean => {
    const ok = consumeHeader();
    buffer.shifted += extensionBlocks * 512;
    if (x._header) {
      x._header.oldGnuSparse = sparse;
      // tar-stream's byteOffset (taken before the blocks were counted back in) is where they start, not the data.
      x._header.extensionBytes = extensionBlocks * 512;
    }
    return ok;
  };
  x._consumeHeader = () => {
    if (x._locked) return consumeHeader();
    if (pending === null) {
      const block = peekBlock(buffer, shift);
      if (!isOldGnuSparseHeader(block)) return consumeHeader();
      const sparse = oldGnuSparseHeader(block);
      // GNU tar reads extension blocks only while the map goes on: not after an empty entry, whatever the flag says.
      if (!sparse.extended || sparse.ended) return consume(sparse, 0);
      pending = { start: buffer.shifted, header: Buffer.from(shift(512)!), sparse, blocks: 0 };
    }
    while (pending.sparse.extended && !pending.sparse.ended) {
      if (buffer.buffered < 512) {
        x._continueWrite(null);
        return false;
      }
      addOldGnuSparseExtension(pending.sparse, shift(512)!);
      pending.blocks += 1;
    }
    // The header back in front of the data, where tar-stream takes it from; its offsets as if it had never left.
    const { start, header, sparse, blocks } = pending;
    pending = null;
    const rest = shift(buffer.buffered);
    buffer.push(header);
    if (rest && rest.length > 0) buffer.push(rest);
    buffer.shifted = start;
    return consume(sparse, blocks);
  };
  x._final = (callback) => (pending !== null ? callback(new Error('Unexpected end of data (inside an old GNU sparse header\'s extension blocks)')) : final(callback));
}

/** The next 512 bytes tar-stream will take, without taking them (pieces joined when the block spans two). */
function peekBlock(buffer: ExtractInternals['_buffer'], shift: (size: number) => Buffer | null): Buffer {
  const first = buffer.queue.peek()!;
  if (first.byteLength - buffer._offset >= 512) return first.subarray(buffer._offset, buffer._offset + 512);
  const shifted = buffer.shifted;
  const all = shift(buffer.buffered)!;
  buffer.push(all);
  buffer.shifted = shifted;
  return all.subarray(0, 512);
}

/** Where tar-stream says the entry's data starts (right after its header block; not in its typings), or NaN. */
function headerDataOffset(stream: TarEntryStream): number {
  const offset = (stream.header as unknown as { byteOffset?: unknown }).byteOffset;
  return typeof offset === 'number' ? offset : Number.NaN;
}

/** The records of the last PAX global header read so far (tar-stream keeps them, not in its typings). */
function globalPax(extract: unknown): Record<string, string> | null {
  const global = (extract as { _paxGlobal?: unknown })._paxGlobal;
  return global && typeof global === 'object' ? (global as Record<string, string>) : null;
}

/**
 * The header that failed follows a zero block read in header position (tar-stream's
 * last decoded header is null only then; before the first header its offset is 0).
 */
function afterEndMarker(extract: unknown): boolean {
  const state = extract as { _header?: unknown; _offset?: unknown };
  return state._header === null && typeof state._offset === 'number' && state._offset > 0;
}

/**
 * Reads a stream to its end, dropping its bytes (the gzip output after the tar's end marker: only its trailer's
 * verdict is wanted). Unpiped from the tar parser first, which has stopped taking it. A bomb-guard error is thrown.
 */
async function drain(stream: Readable): Promise<void> {
  stream.unpipe();
  for await (const chunk of stream) void chunk;
}

/** tar-stream waits for no member's data (its count of a member's missing bytes is 0). */
function noMemberMissingBytes(extract: unknown): boolean {
  return (extract as { _missing?: unknown })._missing === 0;
}

/** Counts compressed bytes in and expanded bytes out; a stream far beyond the ratio is a bomb. */
function ratioGuard(compressedSource: Readable, options: TarListInput): Transform {
  let compressed = 0;
  compressedSource.on('data', (chunk: Buffer) => {
    compressed += chunk.length;
  });
  let expanded = 0;
  const { maxCompressionRatio, compressionRatioMinBytes } = options;
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

function describe(
  stream: TarEntryStream,
  index: number,
  input: TarListInput,
  global: Record<string, string> | null,
  rawMtime: Buffer | null,
  rawTypeflag: number | null,
  gzipCause: () => ExhibitError | null,
): { entry: WireArchiveEntry; open(): Readable; skipRest(): Promise<void> } {
  const header = stream.header;
  // A GNU sparse member: old GNU ('S', its map read by readOldGnuSparse), or PAX (its real name and size in
  // its PAX records); its data is condensed.
  const oldGnu = (header as TarHeader & { oldGnuSparse?: OldGnuSparse }).oldGnuSparse ?? null;
  const sparse = oldGnu ?? (header.type === 'file' || header.type === 'contiguous-file' ? sparseMemberOf(header.pax) : null);
  const raw = (header as TarHeader & { rawPaxNames?: RawPaxNames }).rawPaxNames ?? {};
  const decoded =
    sparse?.name !== undefined
      ? decodeName(sparse.name, true, raw['GNU.sparse.name'])
      : decodeName(header.name, header.pax?.['path'] !== undefined, raw.path);
  const name = analyseEntryName(decoded.text, { maxNameBytes: input.maxEntryNameBytes, validEncoding: decoded.validEncoding, entryIndex: index });
  // tar-stream turns an old (v7) header's trailing slash into a directory typeflag only after it chose the
  // type from the flag, so it says 'file'; GNU tar lists these as directories.
  const v7Directory = header.type === 'file' && header.name.endsWith('/') && !header.size && !sparse;
  // GNU tar's incremental dumps (--listed-incremental) write each directory as type 'D', its data the names it
  // held (a "dumpdir"); tar-stream has no type for it, GNU tar lists it as a directory.
  const dumpdir = header.type === null && rawTypeflag === GNU_DUMPDIR;
  const kind = v7Directory || dumpdir ? 'directory' : oldGnu ? 'file' : (header.type && KIND_BY_TYPE[header.type]) || 'other';
  if (header.size !== undefined && header.size !== null && !(Number.isSafeInteger(header.size) && header.size >= 0)) {
    // A negative, base-256 negative or unreadable size: where the next header starts cannot be known.
    throw new ExhibitError('corrupt-file', `tar entry ${index} declares an impossible size (${String(header.size)}); the rest of the archive cannot be located`, {
      details: { reason: 'corrupt' },
    });
  }
  const storedSize = typeof header.size === 'number' && Number.isFinite(header.size) ? header.size : null;
  const declaredSize = sparse ? sparse.realSize : storedSize;
  const flags = new Set<FileFlag>(name.flags);
  if (kind === 'symlink' || kind === 'hardlink') flags.add('link');
  if (kind === 'device') flags.add('device');

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
  const entry: WireArchiveEntry = {
    recordedName: name.recordedName,
    displayPath: name.displayPath,
    name: name.name,
    extension: name.extension,
    kind,
    declaredSize,
    // A sparse member's data segments are stored as they are: no compression ratio to check. What it
    // expands is its holes, bounded by maxSparseHoleBytes (expandSparse, before any byte is written).
    compressedSize: null,
    // tar-stream merges a PAX global header's records only into entries with PAX records of their
    // own; POSIX, GNU tar and Python's tarfile apply its times to every entry after it.
    times: tarTimes(header.pax ?? global ?? {}, header, rawMtime),
    flags: [...flags],
    encrypted: false,
  };
  if ((kind === 'symlink' || kind === 'hardlink') && header.linkname) {
    entry.linkTarget = decodeName(header.linkname, header.pax?.['linkpath'] !== undefined, raw.linkpath).text;
  }
  const open = () => {
    member = memberStream(stream, index, state, storedSize, header.pax?.['size'] !== undefined, gzipCause);
    return sparse ? expandSparse(member, sparse, `tar entry ${index}`, input.maxSparseHoleBytes) : member;
  };
  const skipRest = async () => {
    // tar-stream never attaches data to a directory entry, so its stream would never end.
    if (header.type === 'directory') return;
    member?.destroy();
    stream.resume();
    await settled;
  };
  return { entry, open, skipRest };
}

/**
 * Header names arrive as latin1 (raw bytes); PAX names as UTF-8 text, and as their recorded bytes
 * when keepRawPaxNames read them, which are decoded as a header's own name is (not UTF-8: Latin-1, odd-name).
 */
function decodeName(text: string, fromPax: boolean, rawPax?: Buffer) {
  if (fromPax && rawPax !== undefined) return decodeRecordedBytes(rawPax, 'unknown');
  if (fromPax) return { text, validEncoding: !text.includes('\ufffd') };
  return decodeRecordedBytes(Buffer.from(text, 'latin1'), 'unknown');
}

function tarTimes(pax: Record<string, string>, header: TarHeader, rawMtime: Buffer | null): ArchiveTimes {
  const times: ArchiveTimes = {};
  const modified =
    (pax['mtime'] !== undefined ? decimalSecondsTime(pax['mtime'], 'tar:pax') : undefined) ??
    headerMtime(header.mtime, rawMtime);
  if (modified) times.modified = modified;
  const accessed = pax['atime'] !== undefined ? decimalSecondsTime(pax['atime'], 'tar:pax') : undefined;
  if (accessed) times.accessed = accessed;
  // POSIX ctime is the inode change time, not creation.
  const changed = pax['ctime'] !== undefined ? decimalSecondsTime(pax['ctime'], 'tar:pax') : undefined;
  if (changed) times.changed = changed;
  return times;
}

/**
 * The header's mtime. A negative time can only be written in base-256 (GNU
 * tar does, for files dated before 1970: octal has no sign), and tar-stream
 * decodes negative base-256 numbers one short: it sums the complemented
 * bytes (~x) and negates that, where the two's complement value is
 * -(~x + 1). So -100 came out as -99, a second late, and -1 as the epoch (GNU
 * tar -tv and Python's tarfile read -100 and -1). A negative field is read
 * from the header's own bytes; when they are not at hand, a value that could
 * be -1 (the epoch) is given as no time rather than a wrong one.
 */
function headerMtime(mtime: Date | undefined, raw: Buffer | null) {
  if (raw !== null && raw.length === 12 && raw[0] === 0xff) {
    let value = 0n;
    for (let i = 1; i < 12; i += 1) value = value * 256n + BigInt(raw[i]!);
    const seconds = value - (1n << 88n);
    return seconds >= -BigInt(MAX_DATE_SECONDS) ? utcTime(Number(seconds) * 1000, 'tar:header') : undefined;
  }
  if (!mtime) return undefined;
  const ms = mtime.getTime();
  if (Number.isNaN(ms)) return undefined;
  if (raw === null && ms === 0) return undefined;
  return utcTime(ms < 0 && raw === null ? ms - 1000 : ms, 'tar:header');
}

/** The furthest a JavaScript Date reaches from the epoch, in seconds. */
const MAX_DATE_SECONDS = 8.64e12;

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
function memberStream(
  entry: TarEntryStream,
  index: number,
  state: EntryState,
  declaredSize: number | null,
  sizeFromPax: boolean,
  gzipCause: () => ExhibitError | null,
): Readable {
  const out = new PassThrough();
  const truncated = (cause?: Error) =>
    gzipCause() ??
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

/** The TAR tasks of the archive parser threads (archive.worker.ts). */
export const TAR_TASKS: Record<'tar-list', TaskHandler> = {
  async 'tar-list'(input, context) {
    return { value: await listTar(new ThreadLink(context), input as TarListInput) };
  },
};
