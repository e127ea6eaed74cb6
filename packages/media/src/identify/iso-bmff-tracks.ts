import type { RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

/**
 * The handler types of an ISO-BMFF file's tracks (`moov/trak/mdia/hdlr`:
 * 'vide', 'soun', 'text', 'meta'...), read by box headers: the top-level
 * boxes up to `moov` (which a camera writes after `mdat`, at the end) with
 * small ranged reads, then each `trak`'s `mdia` and `hdlr`, from the moov
 * read whole when it is at most MEDIA_LIMITS.moovWholeReadBytes, else by ranged reads
 * of headers alone (a long video's megabytes of sample tables cost nothing).
 *
 * Hostile input: every size is checked against its parent, at most
 * MEDIA_LIMITS.maxTrackWalkBoxes box headers are read, and anything malformed (a size that runs
 * past its parent, no `moov`, a truncated file) gives null, "unknown".
 */

/** Box headers read in all (MEDIA_LIMITS.maxTrackWalkBoxes). */
const MAX_BOXES = MEDIA_LIMITS.maxTrackWalkBoxes;

/**
 * A `moov` up to this size is fetched with one read and walked in memory: a
 * walk by ranged reads cost a storage round trip per box header (11 fetches
 * instead of 2 for an MP4 whose moov is at the end). A larger one is walked by
 * ranged reads, its headers only (MEDIA_LIMITS.moovWholeReadBytes).
 */
const MOOV_WHOLE_READ_BYTES = MEDIA_LIMITS.moovWholeReadBytes;

interface Box {
  type: string;
  /** First byte of the payload, and the box's end (absolute offsets). */
  body: number;
  end: number;
}

class BoxWalker {
  private left = MAX_BOXES;

  /** The bytes of [at, at + length) when read whole (the moov), else null. */
  private held: { at: number; bytes: Buffer } | null = null;

  constructor(
    private readonly source: RandomAccessSource,
    private readonly abortSignal: AbortSignal | undefined,
    head?: Buffer,
  ) {
    // Identification's head, already read: box headers (and a moov) inside it cost no read.
    if (head && head.length > 0) this.held = { at: 0, bytes: head };
  }

  /** Reads [from, to) with one read; later reads inside it come from memory. */
  async hold(from: number, to: number): Promise<void> {
    this.held = { at: from, bytes: await this.read(from, to - from) };
  }

  /** The children of [from, to), in order; null when one of them is malformed or the budget is spent. */
  async *children(from: number, to: number): AsyncGenerator<Box, void, undefined> {
    let at = from;
    while (at + 8 <= to) {
      if (this.left-- <= 0) throw new Malformed();
      const header = await this.read(at, Math.min(16, to - at));
      let size = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      let body = at + 8;
      if (size === 1) {
        if (header.length < 16) throw new Malformed();
        const large = header.readBigUInt64BE(8);
        if (large > BigInt(to - at)) throw new Malformed();
        size = Number(large);
        body = at + 16;
      } else if (size === 0) {
        // "To the end of the enclosing box" (a file whose last box is still being written).
        size = to - at;
      }
      if (size < body - at || at + size > to) throw new Malformed();
      yield { type, body, end: at + size };
      at += size;
    }
  }

  /** Whether [from, to) is already in memory. */
  holds(from: number, to: number): boolean {
    const held = this.held;
    return held !== null && from >= held.at && to <= held.at + held.bytes.length;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const held = this.held;
    if (held && this.holds(offset, offset + length)) {
      return held.bytes.subarray(offset - held.at, offset - held.at + length);
    }
    const bytes = await this.source.read(offset, length, this.abortSignal ? { abortSignal: this.abortSignal } : {});
    if (bytes.length < length) throw new Malformed();
    return bytes;
  }
}

class Malformed extends Error {}

async function find(walker: BoxWalker, parent: { body: number; end: number }, type: string): Promise<Box | null> {
  for await (const box of walker.children(parent.body, parent.end)) if (box.type === type) return box;
  return null;
}

/**
 * A track's handler type, or UNREAD for a `trak` whose handler could not be
 * read (no `mdia`, no `hdlr`, one too short to hold the type): it may be a
 * picture track as well as anything else.
 */
export const UNREAD = Symbol('unread handler');

/**
 * The set of track handler types (UNREAD for a track whose handler could not
 * be read), or null when the file's `moov` cannot be found and walked. Stops
 * at the first video track when `untilVideo` (all a caller asking "is there
 * any video?" needs).
 */
export async function trackHandlers(source: RandomAccessSource, options: { abortSignal?: AbortSignal; untilVideo?: boolean; head?: Buffer } = {}): Promise<Set<string | typeof UNREAD> | null> {
  const walker = new BoxWalker(source, options.abortSignal, options.head);
  const handlers = new Set<string | typeof UNREAD>();
  try {
    const moov = await find(walker, { body: 0, end: source.size }, 'moov');
    if (!moov) return null;
    if (moov.end - moov.body <= MOOV_WHOLE_READ_BYTES && !walker.holds(moov.body, moov.end)) await walker.hold(moov.body, moov.end);
    for await (const trak of walker.children(moov.body, moov.end)) {
      if (trak.type !== 'trak') continue;
      const mdia = await find(walker, trak, 'mdia');
      const hdlr = mdia ? await find(walker, mdia, 'hdlr') : null;
      // hdlr is a FullBox: version and flags (4), pre_defined (4), then the handler type.
      if (!hdlr || hdlr.body + 12 > hdlr.end) {
        handlers.add(UNREAD);
        continue;
      }
      const handler = (await walker.read(hdlr.body + 8, 4)).toString('latin1');
      handlers.add(handler);
      if (options.untilVideo && handler === 'vide') break;
    }
    return handlers;
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
}

/**
 * The atoms a QuickTime movie without `ftyp` may start with that file-type does
 * not take (it knows `free`, `mdat`, `moov`, `wide`): a preview (`pnot`, then
 * `PICT`), padding (`skip`, `junk`), a `uuid` box. The list is exiftool's.
 */
const QUICKTIME_FIRST_ATOMS: ReadonlySet<string> = new Set(['skip', 'pnot', 'PICT', 'pict', 'junk', 'uuid']);

/**
 * A QuickTime movie from before `ftyp` (classic QuickTime, cameras of that
 * time) that starts with one of those atoms: a movie only when the top-level
 * atoms lead to a `moov` with at least one track, so four letters at offset 4
 * alone never make a file a video. Null otherwise.
 */
export async function quickTimeWithoutFtyp(source: RandomAccessSource, head: Buffer, options: { abortSignal?: AbortSignal } = {}): Promise<{ ext: 'mov'; mime: 'video/quicktime' } | null> {
  if (head.length < 8 || !QUICKTIME_FIRST_ATOMS.has(head.toString('latin1', 4, 8))) return null;
  const handlers = await trackHandlers(source, { ...options, untilVideo: true });
  // A track whose handler was read: four letters and a trak header alone do not make a movie.
  return handlers !== null && [...handlers].some((h) => h !== UNREAD) ? { ext: 'mov', mime: 'video/quicktime' } : null;
}

/** An identification with the kind its tracks give, where that differs from what its MIME type says. */
export interface TrackedType {
  ext: string;
  mime: string;
  kind?: 'audio';
}

/**
 * The types file-type (or the brand-less QuickTime check) gives an ISO-BMFF or
 * QuickTime file by its brand alone, calling every one a video: brands are
 * hints (Android writes voice notes as 'isom' MP4, WhatsApp and recorders
 * write 3GP audio), so these are checked against their tracks.
 */
const MOVIE_TYPES: ReadonlySet<string> = new Set(['mp4', 'm4v', 'm4p', 'f4v', '3gp', '3g2', 'mov']);

/**
 * Handler types of tracks that are never pictures: sound, timed text and
 * subtitles ('text', 'sbtl', 'subt'; 'clcp' closed captions), timecode,
 * timed metadata, hint tracks (RTP streaming). Sound beside only these is
 * audio. Anything else ('vide', QuickTime's MPEG-1 muxed 'MPEG' and sprite
 * 'sprt', ISO's auxiliary video 'auxv' and 'pict', a type not known here, a
 * track whose handler was not read) may be a picture: the brand's answer stands.
 */
const NON_VISUAL_HANDLERS: ReadonlySet<string> = new Set(['soun', 'text', 'sbtl', 'subt', 'clcp', 'tmcd', 'meta', 'hint']);

/** Audio brands file-type answers audio for ('M4A ', 'M4B ', Adobe's 'F4A '/'F4B '). */
const AUDIO_BRAND_TYPES: ReadonlySet<string> = new Set(['m4a', 'm4b', 'f4a', 'f4b']);

/**
 * The type an MP4-family, 3GPP or QuickTime file's tracks give where its
 * brand says otherwise. Sound alone is audio (a 'soun' track, every track's
 * handler read, and each one sound or another that is never a picture:
 * NON_VISUAL_HANDLERS): `audio/mp4` (RFC 4337; as exiftool says of an 'iso*' file, and of
 * 'M4P ' under file-type's ext), `audio/3gpp`/`audio/3gpp2` (RFC 3839, RFC
 * 4393: the types for a 3GPP file with no video), and a QuickTime movie keeps
 * `video/quicktime` (the only registered QuickTime type; exiftool and libmagic
 * say it too) with the kind audio. An audio brand over video and no sound is
 * `video/mp4`; video beside sound under an audio brand stays audio (an
 * audiobook's or podcast's chapter pictures are a 'vide' track).
 *
 * Null, and the brand's answer stands, when the tracks do not contradict it,
 * or its `moov` cannot be found and walked within the walker's bounds
 * (truncated, malformed, hostile): an unknown track list never makes a guess.
 */
export async function typeByTracks(
  source: RandomAccessSource,
  head: Buffer,
  found: { ext: string; mime: string },
  options: { abortSignal?: AbortSignal } = {},
): Promise<TrackedType | null> {
  const movie = MOVIE_TYPES.has(found.ext);
  if (!movie && !AUDIO_BRAND_TYPES.has(found.ext)) return null;
  // A movie brand needs only "any video?"; an audio brand, also "any sound?" after a video track.
  const handlers = await trackHandlers(source, { ...options, head, untilVideo: movie });
  if (handlers === null) return null;
  if (!movie) return handlers.has('vide') && !handlers.has('soun') ? { ext: 'mp4', mime: 'video/mp4' } : null;
  const soundAlone = handlers.has('soun') && [...handlers].every((h) => h !== UNREAD && NON_VISUAL_HANDLERS.has(h));
  if (!soundAlone) return null;
  switch (found.ext) {
    case '3gp':
      return { ext: '3gp', mime: 'audio/3gpp' };
    case '3g2':
      return { ext: '3g2', mime: 'audio/3gpp2' };
    case 'mov':
      return { ext: 'mov', mime: found.mime, kind: 'audio' };
    case 'm4p':
      return { ext: 'm4p', mime: 'audio/mp4' };
    default:
      return { ext: 'm4a', mime: 'audio/mp4' };
  }
}

/**
 * Whether the file's tracks were read and one is a video track ('vide'): the track verdict the extension
 * check needs where the detected type alone fits the name (an MP4 under .m4a). False when the `moov`
 * cannot be found and walked (truncated, malformed, hostile: no verdict, no flag) or holds no 'vide'.
 */
export async function holdsVideoTrack(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
  const handlers = await trackHandlers(source, { ...options, untilVideo: true });
  return handlers !== null && handlers.has('vide');
}
