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
 * A `vide` track that is chapter art, in place of 'vide': a sound track's
 * `tref/chap` names it and its first sample description is a still-picture
 * format (CHAPTER_PICTURE_ENTRIES). Audiobooks and podcasts (Apple's, and
 * what tools that write chapters for them copy) hold one picture per chapter
 * so; ffmpeg's demuxer reads such a track as an attached picture, not video.
 */
export const CHAPTER_PICTURE = Symbol('chapter picture');

/**
 * Sample-entry types of still pictures: QuickTime Photo-JPEG ('jpeg', what Apple writes for chapter
 * pictures) and PNG. A chapter reference to a track coded as motion video ('avc1', 'hvc1', 'mp4v'…) does not
 * make it chapter art: a `tref/chap` is four bytes a suspect can add, and ffmpeg would then show only the
 * track's first frame. Known gap: Motion-JPEG video under a chapter reference passes as chapter art, and JPEG
 * pictures stored as 'mp4v' (MPEG-4 object type 0x6C, not seen from tools that write chapters) as video.
 */
const CHAPTER_PICTURE_ENTRIES: ReadonlySet<string> = new Set(['jpeg', 'png ']);

const MAX_CHAPTER_REFS = MEDIA_LIMITS.maxChapterTrackRefs;

interface TrackRead {
  /** `tkhd` track_ID, or null when unread (no tkhd, one too short). */
  id: number | null;
  handler: string | typeof UNREAD;
  /** Whether the first sample description is a still picture (read for 'vide' tracks only). */
  still: boolean;
  /** Track ids this track's `tref/chap` names. */
  chapters: number[];
}

async function readTrack(walker: BoxWalker, trak: Box): Promise<TrackRead> {
  const track: TrackRead = { id: null, handler: UNREAD, still: false, chapters: [] };
  let mdia: Box | null = null;
  for await (const box of walker.children(trak.body, trak.end)) {
    if (box.type === 'tkhd' && track.id === null) {
      // FullBox: version 1 has 64-bit creation and modification times before track_ID, version 0 32-bit.
      if (box.body + 4 > box.end) continue;
      const version = (await walker.read(box.body, 1))[0];
      const at = box.body + 4 + (version === 1 ? 16 : 8);
      if (at + 4 <= box.end) track.id = (await walker.read(at, 4)).readUInt32BE(0);
    } else if (box.type === 'tref') {
      for await (const ref of walker.children(box.body, box.end)) {
        if (ref.type !== 'chap') continue;
        const count = Math.floor((ref.end - ref.body) / 4);
        if (track.chapters.length + count > MAX_CHAPTER_REFS) throw new Malformed();
        const ids = count > 0 ? await walker.read(ref.body, count * 4) : Buffer.alloc(0);
        for (let i = 0; i < count; i++) track.chapters.push(ids.readUInt32BE(i * 4));
      }
    } else if (box.type === 'mdia' && mdia === null) mdia = box;
  }
  if (!mdia) return track;
  let hdlr: Box | null = null;
  let minf: Box | null = null;
  for await (const box of walker.children(mdia.body, mdia.end)) {
    if (box.type === 'hdlr' && !hdlr) hdlr = box;
    else if (box.type === 'minf' && !minf) minf = box;
  }
  // hdlr is a FullBox: version and flags (4), pre_defined (4), then the handler type.
  if (!hdlr || hdlr.body + 12 > hdlr.end) return track;
  track.handler = (await walker.read(hdlr.body + 8, 4)).toString('latin1');
  if (track.handler !== 'vide' || !minf) return track;
  const stbl = await find(walker, minf, 'stbl');
  const stsd = stbl ? await find(walker, stbl, 'stsd') : null;
  // stsd is a FullBox (4), entry_count (4), then the first entry's size (4) and type (4).
  if (stsd && stsd.body + 16 <= stsd.end) {
    const entry = await walker.read(stsd.body + 4, 12);
    track.still = entry.readUInt32BE(0) > 0 && CHAPTER_PICTURE_ENTRIES.has(entry.toString('latin1', 8, 12));
  }
  return track;
}

/**
 * The set of track handler types (UNREAD for a track whose handler could not
 * be read, CHAPTER_PICTURE for a 'vide' track that is chapter art), or null
 * when the file's `moov` cannot be found and walked. Stops at the first video
 * track when `untilVideo` (all a caller asking "is there any video?" needs):
 * a 'vide' track in a format that is no still picture, which no chapter
 * reference makes chapter art.
 */
export async function trackHandlers(source: RandomAccessSource, options: { abortSignal?: AbortSignal; untilVideo?: boolean; head?: Buffer } = {}): Promise<Set<string | typeof UNREAD | typeof CHAPTER_PICTURE> | null> {
  const walker = new BoxWalker(source, options.abortSignal, options.head);
  const tracks: TrackRead[] = [];
  try {
    const moov = await find(walker, { body: 0, end: source.size }, 'moov');
    if (!moov) return null;
    if (moov.end - moov.body <= MOOV_WHOLE_READ_BYTES && !walker.holds(moov.body, moov.end)) await walker.hold(moov.body, moov.end);
    for await (const trak of walker.children(moov.body, moov.end)) {
      if (trak.type !== 'trak') continue;
      const track = await readTrack(walker, trak);
      tracks.push(track);
      if (options.untilVideo && track.handler === 'vide' && !track.still) break;
    }
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }
  // Chapters a sound track names (an audiobook's): a picture track naming itself or another picture track, a
  // reference to a track not in the file or to id 0 (no track has it), makes nothing chapter art.
  const chapterIds = new Set(tracks.filter((t) => t.handler === 'soun').flatMap((t) => t.chapters.filter((id) => id !== 0)));
  const handlers = new Set<string | typeof UNREAD | typeof CHAPTER_PICTURE>();
  for (const t of tracks) {
    handlers.add(t.handler === 'vide' && t.still && t.id !== null && chapterIds.has(t.id) ? CHAPTER_PICTURE : t.handler);
  }
  return handlers;
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
 * handler read, and each one sound, another that is never a picture
 * (NON_VISUAL_HANDLERS) or chapter art (CHAPTER_PICTURE): `audio/mp4` (RFC 4337; as exiftool says of an 'iso*'
 * file, and of 'M4P ' under file-type's ext), `audio/3gpp`/`audio/3gpp2` (RFC 3839, RFC
 * 4393: the types for a 3GPP file with no video), and a QuickTime movie keeps
 * `video/quicktime` (the only registered QuickTime type; exiftool and libmagic
 * say it too) with the kind audio. An audio brand over a 'vide' track that is
 * not chapter art is `video/mp4`, with sound or without
 * (m4a-branded-video-identified-as-audio): a brand is four bytes anyone can
 * write; an audiobook's or podcast's chapter pictures, named by its sound
 * track's `tref/chap`, leave it audio.
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
  // Either brand needs only "any video?" once a video track is read: sound beside it changes nothing.
  const handlers = await trackHandlers(source, { ...options, head, untilVideo: true });
  if (handlers === null) return null;
  if (!movie) return handlers.has('vide') ? { ext: 'mp4', mime: 'video/mp4' } : null;
  const soundAlone = handlers.has('soun') && [...handlers].every((h) => h === CHAPTER_PICTURE || (h !== UNREAD && NON_VISUAL_HANDLERS.has(h)));
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
 * Whether the file's tracks were read and one is a video track ('vide', not chapter art): the track verdict the extension
 * check needs where the detected type alone fits the name (an MP4 under .m4a). False when the `moov`
 * cannot be found and walked (truncated, malformed, hostile: no verdict, no flag) or holds no 'vide'.
 */
export async function holdsVideoTrack(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
  const handlers = await trackHandlers(source, { ...options, untilVideo: true });
  return handlers !== null && handlers.has('vide');
}
