import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, createInflateRaw, inflateRawSync, type InflateRaw } from 'node:zlib';
import { ExhibitError, errorMessage } from '@exhibit/core';

/**
 * gzip (RFC 1952) for tar.gz, in the archive parser thread: the framing
 * (header, CRC-32, size, members one after another) is read here and only
 * the deflate data goes to zlib's raw inflate.
 *
 * Node's gunzip checks the trailer inside the same inflate call that
 * produces the last output, and when that call fails (a bad CRC, or junk
 * after the stream, which it takes for another member's header) it drops
 * that call's output: up to 16 KiB of tar, i.e. the last members, were lost
 * although every byte of them had been inflated (GNU tar and `zcat | tar t`
 * list them). Here every inflated byte is passed on before the framing is
 * judged, and a damaged stream does not fail the pipe: the output just ends,
 * and `error` says why, for the reader to give once the tar parser has
 * recorded whatever was complete.
 *
 * Like gzip: members follow one another (`cat a.gz b.gz`) and make one
 * stream; zero bytes after a member are padding; other bytes after a member
 * are ignored ("trailing garbage ignored") but reported as a finding, so
 * nothing is silently dropped.
 */
export class GzipMembers extends Transform {
  /** Why the compressed stream is bad (its output has ended); null while it is sound. */
  error: ExhibitError | null = null;
  /**
   * Where (in the output) the member that failed began, when `error` is about bytes already given out: its
   * CRC-32 or size does not match, or its deflate data is damaged. Everything given out from there on is
   * unverified. Null when the stream is sound, or failed in a header or cut short (no check said the bytes were wrong).
   */
  failedMemberStart: number | null = null;
  /** Non-zero bytes after the last complete member. */
  trailingData = false;
  private phase: 'header' | 'body' | 'trailer' | 'after' = 'header';
  private held: Buffer = EMPTY;
  /** Room behind `held` while a member header comes in pieces (grown by doubling: no copy of it all per piece). */
  private heldStore: Buffer = EMPTY;
  private heldOwned = false;
  /** How far the member header's name and comment were searched (no rescan from their start per piece). */
  private scan: HeaderScan = { searchFrom: 0, ends: [] };
  private inflate: InflateRaw | null = null;
  private fed = 0;
  private crc = 0;
  private size = 0;
  private members = 0;
  /** Bytes given out so far, and where the output of the member being read began: a member that fails took its bytes with it. */
  private out = 0;
  private memberOut = 0;
  /** Output before this offset is wholly in members whose trailer (CRC-32, size) checked out. */
  private passedOut = 0;

  /** Where, in the output, the gzip member being read (or the last one read) began. */
  get memberStart(): number {
    return this.memberOut;
  }

  /** Where (in the output) the members whose trailers checked out end: what comes before was verified. */
  get verifiedEnd(): number {
    return this.passedOut;
  }

  constructor() {
    // Room for one inflate step's output: fewer pauses of the inflater, memory still a few chunks.
    super({ readableHighWaterMark: INFLATE_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.consume(chunk).then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(
      () => callback(),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  }

  override _read(size: number): void {
    // Our reader wants more: let the inflater go on (it was paused when our buffer was full).
    if (this.inflate?.isPaused()) this.inflate.resume();
    super._read(size);
  }

  private async consume(input: Buffer): Promise<void> {
    let chunk = input;
    while (chunk.length > 0 && this.error === null) {
      if (this.phase === 'after') {
        if (!this.trailingData && chunk.some((byte) => byte !== 0)) this.trailingData = true;
        return;
      }
      if (this.phase === 'header') {
        this.holdHeaderBytes(chunk);
        chunk = EMPTY;
        if (this.members > 0 && !startsLikeGzip(this.held)) {
          // Not another member: what follows the stream is not gzip data (zeros are padding).
          this.phase = 'after';
          chunk = this.held;
          this.held = EMPTY;
          continue;
        }
        const header = gzipHeaderLength(this.held, this.scan);
        if (header === 'more') {
          if (this.held.length > MAX_GZIP_HEADER_BYTES) this.stop(corrupt(`gzip: member header longer than ${MAX_GZIP_HEADER_BYTES} bytes`));
          return;
        }
        if (typeof header === 'string') {
          this.stop(corrupt(`gzip: ${header}`));
          return;
        }
        chunk = this.held.subarray(header);
        this.held = EMPTY;
        this.heldStore = EMPTY;
        this.heldOwned = false;
        this.scan = { searchFrom: 0, ends: [] };
        this.startMember();
        continue;
      }
      if (this.phase === 'body') {
        // Fast path for a member that starts and ends in this chunk (many small members: one async
        // inflater each cost tens of µs, a million empty members ran past the deadline). Only while our
        // output buffer has room, so the output still waits for its reader.
        if (this.inflate === null && this.readableLength < INFLATE_CHUNK_BYTES) {
          const whole = this.inflateWhole(chunk);
          if (whole !== null) {
            chunk = chunk.subarray(whole);
            continue;
          }
        }
        const used = await this.inflateSome(chunk);
        if (used === null) return;
        chunk = chunk.subarray(used);
        continue;
      }
      // Trailer: CRC-32 and size (mod 2^32) of the member's data, little-endian.
      const take = chunk.subarray(0, 8 - this.held.length);
      this.held = this.held.length === 0 ? take : Buffer.concat([this.held, take]);
      chunk = chunk.subarray(take.length);
      if (this.held.length < 8) return;
      this.checkTrailer();
    }
  }

  /** Appends a piece of a member header to `held`; a header in many small pieces costs what it is long, not its square. */
  private holdHeaderBytes(piece: Buffer): void {
    if (this.held.length === 0) {
      this.held = piece;
      this.heldOwned = false;
      return;
    }
    const length = this.held.length + piece.length;
    if (!this.heldOwned || this.heldStore.length < length) {
      const store = Buffer.allocUnsafe(Math.max(length, 2 * this.held.length, 256));
      this.held.copy(store, 0);
      this.heldStore = store;
      this.heldOwned = true;
    }
    piece.copy(this.heldStore, this.held.length);
    this.held = this.heldStore.subarray(0, length);
  }

  private startMember(): void {
    this.phase = 'body';
    this.memberOut = this.out;
    this.crc = 0;
    this.size = 0;
    this.fed = 0;
    this.inflate = null;
  }

  /**
   * Inflates the member's deflate data at once when it ends inside `chunk` and gives out at most one
   * inflate step; how much of `chunk` it took, or null to leave it to the streaming inflater (the data
   * runs on past the chunk, gives out more, or is damaged: the streaming inflater keeps what came before
   * the damage). zlib takes no input after the deflate data's end, so taking less than the chunk is that end.
   */
  private inflateWhole(chunk: Buffer): number | null {
    let whole: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      whole = inflateRawSync(chunk, { info: true, finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: INFLATE_CHUNK_BYTES }) as unknown as typeof whole;
    } catch {
      return null;
    }
    const used = whole.engine.bytesWritten;
    if (used >= chunk.length) return null;
    const out = whole.buffer;
    if (out.length > 0) {
      this.crc = crc32(out, this.crc);
      this.size = (this.size + out.length) % 2 ** 32;
      this.out += out.length;
      this.push(out);
    }
    this.phase = 'trailer';
    this.held = EMPTY;
    return used;
  }

  /** The member's streaming inflater, made when the fast path leaves the member to it. */
  private streamingInflater(): InflateRaw {
    if (this.inflate !== null) return this.inflate;
    // SYNC_FLUSH at the end: a stream cut short gives out all it holds instead of failing and dropping it.
    const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH, chunkSize: INFLATE_CHUNK_BYTES });
    inflate.on('data', (out: Buffer) => {
      this.crc = crc32(out, this.crc);
      this.size = (this.size + out.length) % 2 ** 32;
      this.out += out.length;
      if (!this.push(out)) inflate.pause();
    });
    this.inflate = inflate;
    return inflate;
  }

  /**
   * Gives the chunk to the inflater; how much of it the deflate data took,
   * or null if it took all of it and wants more. Once the deflate data ends
   * zlib takes no more input, which is how its end is found.
   */
  private async inflateSome(chunk: Buffer): Promise<number | null> {
    const inflate = this.streamingInflater();
    this.fed += chunk.length;
    try {
      await writeTo(inflate, chunk);
    } catch (err) {
      this.stop(this.damaged(err));
      return null;
    }
    const left = this.fed - inflate.bytesWritten;
    if (left <= 0) return null;
    await endOf(inflate);
    this.inflate = null;
    this.phase = 'trailer';
    this.held = EMPTY;
    return chunk.length - left;
  }

  private checkTrailer(): void {
    const crc = this.held.readUInt32LE(0);
    const size = this.held.readUInt32LE(4);
    this.held = EMPTY;
    if (crc !== this.crc >>> 0) {
      this.stop(corrupt(`gzip: member ${this.members + 1} fails its CRC-32 check (recorded ${hex(crc)}, data gives ${hex(this.crc >>> 0)})`));
      return;
    }
    if (size !== this.size) {
      this.stop(corrupt(`gzip: member ${this.members + 1} records ${size} bytes (mod 2^32), its data is ${this.size}`));
      return;
    }
    this.members += 1;
    this.passedOut = this.out;
    this.phase = 'header';
  }

  /**
   * Damaged deflate data in the member being read, named as a person counts members (from 1). zlib's reason is kept
   * only when it names the damage; its word for input that stopped ("unexpected end of file") depends on where the
   * input was cut into pieces, so it is not passed on: the same bytes give the same message however they arrive.
   */
  private damaged(err: unknown): ExhibitError {
    const reason = errorMessage(err);
    const said = /unexpected end|premature/i.test(reason) ? 'it does not decode' : reason;
    return corrupt(`gzip: member ${this.members + 1}: deflate data damaged (${said})`, err);
  }

  private async finish(): Promise<void> {
    if (this.error !== null || this.phase === 'after') return;
    if (this.phase === 'body') {
      // The input ended inside the deflate data (or right after it, without the trailer): give out what it holds.
      const inflate = this.streamingInflater();
      this.inflate = null;
      try {
        inflate.end();
        await endOf(inflate);
      } catch (err) {
        this.stop(this.damaged(err));
        return;
      }
      this.stop(truncated('gzip: the compressed stream ends before its member does (no CRC-32 and size trailer)'));
      return;
    }
    if (this.phase === 'trailer') {
      this.stop(truncated('gzip: the compressed stream ends inside a member\'s CRC-32 and size trailer'));
      return;
    }
    if (this.members === 0) {
      this.stop(this.held.length === 0 ? corrupt('gzip: empty stream') : truncated('gzip: the stream ends inside its header'));
      return;
    }
    // After a complete member: the start of another one that never came is a cut stream; anything else was trailing bytes.
    if (this.held.length > 0) {
      if (startsLikeGzip(this.held)) this.stop(truncated('gzip: the stream ends inside the header of another member'));
      else if (this.held.some((byte) => byte !== 0)) this.trailingData = true;
    }
  }

  /**
   * Ends the output where it is, keeping what was given out; the reader reports `error`. The output ends
   * now, not when the input does: the rest of a long blob behind a broken stream is not read for nothing.
   */
  private stop(error: ExhibitError): void {
    if (this.error !== null) return;
    this.error = error;
    if ((this.phase === 'body' || this.phase === 'trailer') && error.details?.['reason'] === 'corrupt') this.failedMemberStart = this.memberOut;
    this.phase = 'after';
    this.inflate?.destroy();
    this.inflate = null;
    this.push(null);
  }
}

const EMPTY = Buffer.alloc(0);

/** zlib's output per inflate step (node's default is 16 KiB; larger steps cost fewer round trips). */
const INFLATE_CHUNK_BYTES = 64 * 1024;

/** A member header longer than this (its name and comment have no limit in RFC 1952) is not read. */
const MAX_GZIP_HEADER_BYTES = 1024 * 1024;

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

function startsLikeGzip(bytes: Buffer): boolean {
  return bytes[0] === 0x1f && (bytes.length < 2 || bytes[1] === 0x8b);
}

/**
 * Where the search of a member header that came in pieces stands: the ends of its name and comment found so
 * far, and how far the field still open has been searched for its NUL.
 */
interface HeaderScan {
  searchFrom: number;
  ends: number[];
}

/**
 * The length of the gzip member header at the start of `b`, 'more' if it is not all there, or why it is not
 * one. `scan` carries the search over from the previous, shorter `b` of the same header.
 */
function gzipHeaderLength(b: Buffer, scan: HeaderScan): number | 'more' | string {
  if (b.length >= 2 && (b[0] !== 0x1f || b[1] !== 0x8b)) return 'incorrect header check (not gzip)';
  if (b.length < 10) return 'more';
  if (b[2] !== 8) return `unknown compression method ${b[2]}`;
  const flags = b[3]!;
  if (flags & 0xe0) return 'unknown header flags set';
  let pos = 10;
  if (flags & FEXTRA) {
    if (b.length < pos + 2) return 'more';
    pos += 2 + b.readUInt16LE(pos);
  }
  let field = 0;
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    if (pos > b.length) return 'more';
    // Fields end in order: an end found before stays; only the open field goes on being searched, from where it stopped.
    const known = scan.ends[field];
    const nul = known ?? b.indexOf(0, Math.max(pos, scan.searchFrom));
    if (nul < 0) {
      scan.searchFrom = b.length;
      return 'more';
    }
    scan.ends[field] = nul;
    field += 1;
    pos = nul + 1;
  }
  if (flags & FHCRC) {
    if (b.length < pos + 2) return 'more';
    if (b.readUInt16LE(pos) !== (crc32(b.subarray(0, pos)) & 0xffff)) return 'header crc mismatch';
    pos += 2;
  }
  return b.length < pos ? 'more' : pos;
}

function writeTo(inflate: InflateRaw, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    inflate.once('error', onError);
    inflate.write(chunk, (err) => {
      inflate.off('error', onError);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** Waits until the inflater has given out all it holds (it has ended or been told to). */
function endOf(inflate: InflateRaw): Promise<void> {
  return new Promise((resolve, reject) => {
    if (inflate.readableEnded) {
      resolve();
      return;
    }
    inflate.once('end', () => resolve());
    inflate.once('error', (err) => reject(err));
    // Paused by a full buffer downstream: it resumes when we are read from (_read).
  });
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;

function corrupt(message: string, cause?: unknown): ExhibitError {
  return new ExhibitError('corrupt-file', message, { ...(cause !== undefined ? { cause } : {}), details: { reason: 'corrupt' } });
}

function truncated(message: string): ExhibitError {
  return new ExhibitError('corrupt-file', message, { details: { reason: 'truncated' } });
}
