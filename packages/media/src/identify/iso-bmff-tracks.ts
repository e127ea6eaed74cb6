import type { RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { BoxWalker, BoxWalkStopped, type Box } from './iso-bmff-boxes.js';

/**
 * The tracks of an ISO-BMFF file, read by box headers: the top-level boxes up
 * to `moov` (which a camera writes after `mdat`, at the end) with small ranged
 * reads, then each `trak`'s `mdia/hdlr` (the handler type: 'vide', 'soun',
 * 'text', 'meta'...) and, for an audio brand only, a 'vide' track's
 * `mdia/minf/stbl` `stsd` (its sample descriptions, and an 'mp4v' entry's
 * `esds` object type) and `stsz`/`stz2` (its sample count). A track's boxes
 * after those are not read. The moov is read whole when it is at most
 * MEDIA_LIMITS.moovWholeReadBytes, else by ranged reads of headers and those
 * few fields alone (a long video's megabytes of sample tables cost nothing).
 *
 * Hostile input: every size is checked against its parent, at most
 * MEDIA_LIMITS.maxTrackWalkBoxes box headers are read, and anything malformed
 * that the walk reads (a size that runs past its parent, no `moov`, a truncated
 * file) gives null, "unknown".
 */

/**
 * A `moov` up to this size is fetched with one read and walked in memory: a
 * walk by ranged reads cost a storage round trip per box header (11 fetches
 * instead of 2 for an MP4 whose moov is at the end). A larger one is walked by
 * ranged reads, its headers only (MEDIA_LIMITS.moovWholeReadBytes).
 */
const MOOV_WHOLE_READ_BYTES = MEDIA_LIMITS.moovWholeReadBytes;

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
 * Added beside 'vide' (when asked for, `motionEvidence`) for a video track with positive evidence of motion
 * video: a sample description in a motion-video format (MOTION_VIDEO_ENTRIES; 'mp4v' only with an MPEG-4
 * object type that is no still picture) and more than one sample (`stsz`/`stz2` sample_count). What an audio
 * brand needs before a video track beside sound makes the file a video.
 */
export const MOTION_VIDEO = Symbol('motion video');

/**
 * Sample-entry types of motion-video codecs: H.264 ('avc1'…'avc4'), HEVC ('hvc1', 'hev1', Dolby Vision
 * 'dvh1'/'dvhe'), AV1, VP8/VP9, H.263 (3GPP 's263', QuickTime 'h263'), Apple ProRes, DV. 'mp4v' is
 * MPEG-4 Visual only with an object type other than JPEG (0x6C) or PNG (0x6D) in its `esds` (ffmpeg's mp4
 * muxer writes a cover picture track as 'mp4v' with object type 0x6C). A 'jpeg' or 'png ' track (a cover,
 * chapter pictures; also Motion-JPEG or PNG video, a known gap) is no evidence of motion.
 */
const MOTION_VIDEO_ENTRIES: ReadonlySet<string> = new Set([
  'avc1', 'avc2', 'avc3', 'avc4', 'hvc1', 'hev1', 'dvh1', 'dvhe', 'av01', 'vp08', 'vp09', 's263', 'h263',
  'apcn', 'apch', 'apcs', 'apco', 'ap4h', 'ap4x', 'dvc ', 'dvcp', 'dv5n', 'dv5p',
]);

/** MPEG-4 object types (ISO/IEC 14496-1 objectTypeIndication) of still pictures: JPEG, PNG. */
const STILL_OBJECT_TYPES: ReadonlySet<number> = new Set([0x6c, 0x6d]);

const MAX_SAMPLE_ENTRIES = MEDIA_LIMITS.maxTrackSampleEntries;

interface MediaRead {
  handler: string | typeof UNREAD;
  /** Whether a sample description is a motion-video format (read for 'vide' tracks under `motionEvidence` only). */
  motionEntry: boolean;
  /** `stsz`/`stz2` sample_count, null when unread (likewise). */
  samples: number | null;
}

/** A box's children, stopping (without reading further headers) once `done()` says all that is needed was read. */
async function* childrenUntil(walker: BoxWalker, parent: { body: number; end: number }, done: () => boolean): AsyncGenerator<Box, void, undefined> {
  if (done()) return;
  for await (const box of walker.children(parent.body, parent.end)) {
    yield box;
    if (done()) return;
  }
}

/**
 * A track's handler (its `mdia`'s first `hdlr`) and, for a 'vide' track when `motionEvidence`, its sample
 * descriptions and sample count (`minf/stbl`'s `stsd` and `stsz` or `stz2`). Without `motionEvidence` it reads
 * the same box headers as a search for the `hdlr` alone: nothing after it.
 */
async function readMedia(walker: BoxWalker, mdia: Box, motionEvidence: boolean): Promise<MediaRead> {
  const media: MediaRead = { handler: UNREAD, motionEntry: false, samples: null };
  let handlerRead = false;
  let minf: Box | null = null;
  // hdlr comes before minf in every writer's layout; minf is read only for a 'vide' track, and only when asked.
  for await (const box of childrenUntil(walker, mdia, () => minf !== null || (handlerRead && (!motionEvidence || media.handler !== 'vide')))) {
    if (box.type === 'hdlr' && !handlerRead) {
      handlerRead = true;
      // hdlr is a FullBox: version and flags (4), pre_defined (4), then the handler type.
      if (box.body + 12 <= box.end) media.handler = (await walker.read(box.body + 8, 4)).toString('latin1');
    } else if (box.type === 'minf' && handlerRead) minf = box;
  }
  if (!minf) return media;
  const stbl = await find(walker, minf, 'stbl');
  if (!stbl) return media;
  let stsdRead = false;
  for await (const box of childrenUntil(walker, stbl, () => stsdRead && media.samples !== null)) {
    if (box.type === 'stsd' && !stsdRead) {
      stsdRead = true;
      media.motionEntry = await motionSampleEntry(walker, box);
    } else if ((box.type === 'stsz' || box.type === 'stz2') && media.samples === null && box.body + 12 <= box.end) {
      // Both FullBoxes (4), then sample_size (stsz) or reserved and field_size (stz2) (4), then sample_count.
      media.samples = (await walker.read(box.body + 8, 4)).readUInt32BE(0);
    }
  }
  return media;
}

/** Whether one of a 'vide' track's first MAX_SAMPLE_ENTRIES sample descriptions is a motion-video format. */
async function motionSampleEntry(walker: BoxWalker, stsd: Box): Promise<boolean> {
  // stsd is a FullBox (4), entry_count (4), then the entries (boxes).
  if (stsd.body + 8 > stsd.end) return false;
  const entryCount = (await walker.read(stsd.body + 4, 4)).readUInt32BE(0);
  let read = 0;
  let motion = false;
  for await (const entry of childrenUntil(walker, { body: stsd.body + 8, end: stsd.end }, () => motion || read >= Math.min(entryCount, MAX_SAMPLE_ENTRIES))) {
    read++;
    if (MOTION_VIDEO_ENTRIES.has(entry.type)) motion = true;
    else if (entry.type === 'mp4v') {
      const objectType = await mpeg4ObjectType(walker, entry);
      motion = objectType !== null && !STILL_OBJECT_TYPES.has(objectType);
    }
  }
  return motion;
}

/** Bytes of an `esds` read for its descriptors (ES_Descriptor's header and fields, then DecoderConfigDescriptor's tag, length and object type). */
const ESDS_READ_BYTES = 64;

/**
 * The objectTypeIndication of an 'mp4v' sample entry's `esds` (ISO/IEC 14496-14), or null when it cannot be
 * read: the entry's 78 bytes of VisualSampleEntry fields, then its boxes; esds is a FullBox holding an
 * ES_Descriptor (tag 3) whose DecoderConfigDescriptor (tag 4) starts with the object type.
 */
async function mpeg4ObjectType(walker: BoxWalker, entry: Box): Promise<number | null> {
  if (entry.body + 78 > entry.end) return null;
  const esds = await find(walker, { body: entry.body + 78, end: entry.end }, 'esds');
  if (!esds || esds.body + 4 >= esds.end) return null;
  const bytes = await walker.read(esds.body + 4, Math.min(ESDS_READ_BYTES, esds.end - esds.body - 4));
  let at = 0;
  /** A descriptor's tag and the offset of its payload (the length is up to four 7-bit bytes). */
  const descriptor = (): { tag: number; body: number } | null => {
    if (at >= bytes.length) return null;
    const tag = bytes.readUInt8(at++);
    for (let i = 0; i < 4; i++) {
      if (at >= bytes.length) return null;
      if ((bytes.readUInt8(at++) & 0x80) === 0) return { tag, body: at };
    }
    return null;
  };
  const es = descriptor();
  if (!es || es.tag !== 0x03 || es.body + 3 > bytes.length) return null;
  // ES_ID (2), then flags: streamDependence adds dependsOn_ES_ID (2), URL adds its length and string, OCR adds OCR_ES_Id (2).
  const flags = bytes.readUInt8(es.body + 2);
  at = es.body + 3;
  if (flags & 0x80) at += 2;
  if (flags & 0x40) {
    if (at >= bytes.length) return null;
    at += 1 + bytes.readUInt8(at);
  }
  if (flags & 0x20) at += 2;
  const config = descriptor();
  if (!config || config.tag !== 0x04 || config.body >= bytes.length) return null;
  return bytes.readUInt8(config.body);
}

/**
 * The set of track handler types (UNREAD for a track whose handler could not
 * be read; with `motionEvidence`, MOTION_VIDEO beside 'vide' for a track with
 * evidence of motion video), or null when the file's `moov` cannot be found
 * and walked. Stops when `untilVideo` at the first video track (all a caller
 * asking "is there any video?" needs), or with `motionEvidence` at the first
 * track with evidence of motion video. Without `motionEvidence` only each
 * track's `mdia/hdlr` is read; the sample tables are read only for an audio
 * brand (typeByTracks), so a movie brand's file costs no more reads.
 */
export async function trackHandlers(
  source: RandomAccessSource,
  options: { abortSignal?: AbortSignal; untilVideo?: boolean; motionEvidence?: boolean; head?: Buffer } = {},
): Promise<Set<string | typeof UNREAD | typeof MOTION_VIDEO> | null> {
  const walker = new BoxWalker(source, {
    maxBoxes: MEDIA_LIMITS.maxTrackWalkBoxes,
    // "To the end of the enclosing box" (a file whose last box is still being written).
    sizeZero: 'to-parent-end',
    ...(options.head ? { head: options.head } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  const handlers = new Set<string | typeof UNREAD | typeof MOTION_VIDEO>();
  const evidence = options.motionEvidence === true;
  try {
    const moov = await find(walker, { body: 0, end: source.size }, 'moov');
    if (!moov) return null;
    if (moov.end - moov.body <= MOOV_WHOLE_READ_BYTES && !walker.holds(moov.body, moov.end)) await walker.hold(moov.body, moov.end);
    for await (const trak of walker.children(moov.body, moov.end)) {
      if (trak.type !== 'trak') continue;
      const mdia = await find(walker, trak, 'mdia');
      const media = mdia ? await readMedia(walker, mdia, evidence) : null;
      if (!media) {
        handlers.add(UNREAD);
        continue;
      }
      handlers.add(media.handler);
      const motion = media.handler === 'vide' && media.motionEntry && media.samples !== null && media.samples > 1;
      if (motion) handlers.add(MOTION_VIDEO);
      if (options.untilVideo && (evidence ? motion : media.handler === 'vide')) break;
    }
    return handlers;
  } catch (err) {
    if (err instanceof BoxWalkStopped) return null;
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
 * say it too) with the kind audio. An audio brand over a 'vide' track and no
 * sound is `video/mp4`; beside sound, only a track with evidence of motion
 * video (MOTION_VIDEO: a motion-video sample description and more than one
 * sample) makes it `video/mp4` (m4a-branded-video-identified-as-audio: a brand
 * is four bytes anyone can write); a cover or chapter pictures stored as a
 * track leave it what its brand says (audio-brand-cover-track-identified-as-video),
 * and so, a known gap, does Motion-JPEG or PNG video ('jpeg', 'png ').
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
  // A movie brand needs only "any video?" (each track's handler, up to the first 'vide'); an audio brand, also
  // "any sound?" and, of a video track, its evidence of motion video (stopping at the first with it).
  const handlers = await trackHandlers(source, { ...options, head, untilVideo: true, motionEvidence: !movie });
  if (handlers === null) return null;
  if (!movie) {
    // Under an audio brand, a video track beside sound makes the file a video only with evidence of motion
    // video (MOTION_VIDEO): a cover picture stored as a one-picture track ('mp4v' JPEG, 'png ', 'jpeg') or an
    // audiobook's chapter pictures leave it what its brand says (audio-brand-cover-track-identified-as-video).
    const video = handlers.has(MOTION_VIDEO) || (!handlers.has('soun') && handlers.has('vide'));
    return video ? { ext: 'mp4', mime: 'video/mp4' } : null;
  }
  const soundAlone = handlers.has('soun') && [...handlers].every((h) => typeof h === 'string' && NON_VISUAL_HANDLERS.has(h));
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
