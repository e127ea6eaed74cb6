import type { ContentRecord } from '@exhibit/core';

/**
 * Playing a video or a sound in the review app (GET …/playback) without
 * giving evidence a way to run in the app's origin.
 *
 * The download route sends every file as `application/octet-stream` with
 * `Content-Disposition: attachment`, so a browser never renders it. A <video>
 * needs the bytes fetched from a URL instead, and a URL on the app's origin
 * that a browser could be sent to. So the playback route serves a file only
 * when the index identified it, from its bytes (file-type's signatures, never
 * the name), as a video or audio kind with a media type on the list below, and
 * then always with:
 *
 * - the listed media type (ours, not a string from the index or the file);
 * - `X-Content-Type-Options: nosniff`, so the browser takes that type as it is;
 * - `Content-Security-Policy: sandbox; default-src 'none'`, so even a browser
 *   that rendered it as a document would run no script and load nothing, in an
 *   opaque origin;
 * - `Cross-Origin-Resource-Policy: same-origin`, so no other site can embed it.
 *
 * Anything else (an HTML page, a PDF, an image, a file not yet identified, a
 * media type no browser plays, such as AVI or AMR) is refused with a typed
 * reason and is only ever available as a download.
 */

/** Why a file is not served for playback (a 409's `details.playback`). */
export type PlaybackRefusal =
  /** Not identified yet (or identification failed): nothing says what the bytes are. */
  | 'not-identified'
  /** Identified as something other than video or audio. */
  | 'not-media'
  /** Video or audio in a container no browser plays (AVI, ASF, FLV, MPEG-PS, AMR, MIDI…). */
  | 'type-not-playable';

/**
 * The media types a browser's <video>/<audio> may play, by the type the
 * identify step records (file-type's names), to the type served. Whether the
 * codecs inside play is the browser's to say (the app shows "download to
 * view" when it cannot).
 */
const PLAYABLE: Readonly<Record<string, { contentType: string; kind: 'video' | 'audio' }>> = {
  'video/mp4': { contentType: 'video/mp4', kind: 'video' },
  'video/x-m4v': { contentType: 'video/mp4', kind: 'video' },
  'video/quicktime': { contentType: 'video/quicktime', kind: 'video' },
  'video/webm': { contentType: 'video/webm', kind: 'video' },
  'video/matroska': { contentType: 'video/x-matroska', kind: 'video' },
  'video/x-matroska': { contentType: 'video/x-matroska', kind: 'video' },
  'video/ogg': { contentType: 'video/ogg', kind: 'video' },
  'video/3gpp': { contentType: 'video/3gpp', kind: 'video' },
  'audio/mpeg': { contentType: 'audio/mpeg', kind: 'audio' },
  'audio/mp4': { contentType: 'audio/mp4', kind: 'audio' },
  'audio/x-m4a': { contentType: 'audio/mp4', kind: 'audio' },
  'audio/aac': { contentType: 'audio/aac', kind: 'audio' },
  'audio/ogg': { contentType: 'audio/ogg', kind: 'audio' },
  'audio/opus': { contentType: 'audio/ogg', kind: 'audio' },
  'audio/wav': { contentType: 'audio/wav', kind: 'audio' },
  'audio/flac': { contentType: 'audio/flac', kind: 'audio' },
  'audio/webm': { contentType: 'audio/webm', kind: 'audio' },
};

/** The headers every playback response carries, besides its type and length. */
export const PLAYBACK_SAFETY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'content-security-policy': "sandbox; default-src 'none'",
  'cross-origin-resource-policy': 'same-origin',
});

export type PlaybackDecision = { playable: true; contentType: string; kind: 'video' | 'audio' } | { playable: false; refusal: PlaybackRefusal };

/**
 * Whether a content may be played, and as what. The kind and the type must
 * agree: a type on the list under any other kind (which kindOf never gives,
 * but a row is data) is refused.
 */
export function playbackOf(content: Pick<ContentRecord, 'kind' | 'mime'> | null): PlaybackDecision {
  if (!content || content.kind === null || content.mime === null) return { playable: false, refusal: 'not-identified' };
  if (content.kind !== 'video' && content.kind !== 'audio') return { playable: false, refusal: 'not-media' };
  // `audio/ogg; codecs=opus`: the parameters are file-type's, the list keys on the type alone.
  const type = content.mime.split(';')[0]!.trim().toLowerCase();
  const entry = Object.hasOwn(PLAYABLE, type) ? PLAYABLE[type] : undefined;
  if (!entry || entry.kind !== content.kind) return { playable: false, refusal: 'type-not-playable' };
  return { playable: true, contentType: entry.contentType, kind: entry.kind };
}
