import { ExhibitError, isExhibitError, type ExhibitErrorCode, type RandomAccessSource } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import type { ToolFailureDetails } from './run-tool.js';

/**
 * Protocols ffmpeg/ffprobe may open: the blob's http(s) URL and what https is
 * built on. Everything else (file, pipe, crypto, data, concat, subfile, ...)
 * is refused, so a crafted input cannot make the tool read local files.
 */
export const ALLOWED_PROTOCOLS = ['http', 'https', 'tcp', 'tls'] as const;

/**
 * Added to the allowlist only for an input that is a span of a larger blob.
 * ffmpeg opens the URL inside `subfile` under the same allowlist, so it
 * reaches nothing the allowlist does not already allow (no `file`, `pipe`,
 * `concat`, nor another `subfile` over them).
 */
const SPAN_PROTOCOL = 'subfile';

/**
 * Demuxers allowed to open the input: video containers, and the audio
 * formats identification names (their metadata is read by ffprobe too).
 * Playlist and indirection formats (hls, concat, dash, image2, tee, ...)
 * are not here: they open further URLs named inside the evidence. None of
 * the audio demuxers opens anything but its input.
 */
export const MEDIA_DEMUXERS = [
  'mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2',
  'matroska', 'webm',
  'avi',
  'mpegts',
  'mpeg',
  'flv',
  'asf',
  'ogg',
  'mxf',
  'dv',
  'mp3', 'aac', 'ac3', 'eac3', 'wav', 'w64', 'flac', 'aiff', 'caf', 'amr', 'ape', 'wv', 'au', 'dsf', 'mpc', 'mpc8', 'voc', 'qcp',
] as const;

/**
 * The audio types (identification's detected ext) an allowed demuxer reads:
 * mp3 (mp1/mp2/mp3), aac, ac3 (which file-type and libmagic also call
 * E-AC-3: the same 0B 77 sync word; ffmpeg reads it by `eac3`, bsid 11-16), wav, flac, aiff, caf, amr, ape, wv, au, dsf,
 * mpc (Musepack SV7 by `mpc`, SV8 by `mpc8`), voc, qcp, ogg (oga, opus, spx),
 * the ISO/QuickTime family (m4a …, mp4, mov, 3gp, 3g2), asf, matroska (mka),
 * webm. Only whether a type is here matters: ffmpeg picks the demuxer among
 * MEDIA_DEMUXERS itself. A type not here has none: MIDI (`mid`) and tracker
 * modules (`xm`, `s3m`, `it`) are scores, not recordings, read only by
 * demuxers not on the allowlist (libopenmpt, smf), so ffprobe would call a
 * well-formed file corrupt; their metadata is not read at all ('n/a').
 */
export const AUDIO_READABLE_EXTS: ReadonlySet<string> = new Set([
  'mp3', 'mp2', 'mp1',
  'aac', 'ac3',
  'wav', 'flac', 'aif', 'aiff', 'caf',
  'amr', 'ape', 'wv', 'au', 'dsf', 'mpc', 'voc', 'qcp',
  'ogg', 'oga', 'opus', 'spx',
  'm4a', 'm4b', 'm4p', 'f4a', 'f4b', 'mp4', 'mov', '3gp', '3g2',
  'asf', 'mka', 'webm',
]);

/** Whether an allowed demuxer reads this audio type (AUDIO_READABLE_EXTS). */
export function audioReadable(detectedExt: string | null | undefined): boolean {
  return typeof detectedExt === 'string' && AUDIO_READABLE_EXTS.has(detectedExt);
}

/** One evidence input for ffmpeg/ffprobe. */
export interface ToolInput {
  /** The argument after `-i`. Holds the SAS URL: never log it. */
  readonly url: string;
  /** Options placed right before that `-i`; they apply to this input only. */
  readonly args: readonly string[];
  /** For runTool's `secrets`: the input as a whole, then the SAS URL alone (tools print either). */
  readonly secrets: readonly string[];
}

/** Bytes [start, start + size) of the blob behind a URL. */
export interface BlobSpan {
  start: number;
  size: number;
}

/**
 * The input for a source: its URL, or, when the source is a span of a larger
 * blob (`urlOffset`: a member stored uncompressed in an archive), ffmpeg's
 * `subfile` protocol over that blob's URL, so the tools see only the span.
 * The span is checked before a URL is asked for.
 */
export async function toolInput(source: RandomAccessSource): Promise<ToolInput> {
  const span = source.urlOffset === undefined ? undefined : checkedSpan(source.urlOffset, source.size);
  return toolInputFor(await source.url(), span);
}

/** toolInput's construction, for a URL in hand (tests; callers use toolInput). */
export function toolInputFor(blobUrl: string, span?: BlobSpan): ToolInput {
  if (span === undefined) {
    return { url: blobUrl, args: hardenedInputArgs(ALLOWED_PROTOCOLS), secrets: [blobUrl] };
  }
  const { start, size } = checkedSpan(span.start, span.size);
  // `end` is exclusive: subfile reads while position < end.
  const url = `${SPAN_PROTOCOL},,start,${start},end,${start + size},,:${blobUrl}`;
  return {
    url,
    args: [
      ...hardenedInputArgs([SPAN_PROTOCOL, ...ALLOWED_PROTOCOLS]),
      // http's initial offset, passed on by subfile: the first request starts at
      // the span instead of at byte 0 of the archive, only to be dropped at once.
      '-offset', String(start),
    ],
    secrets: [url, blobUrl],
  };
}

/**
 * Only whole numbers reach the command line: the span comes from an archive's
 * headers, which are evidence.
 */
function checkedSpan(start: unknown, size: unknown): BlobSpan {
  if (
    typeof start !== 'number' || typeof size !== 'number' ||
    !Number.isSafeInteger(start) || !Number.isSafeInteger(size) ||
    start < 0 || size < 0 || !Number.isSafeInteger(start + size)
  ) {
    throw new ExhibitError('invalid-argument', 'the content span is not a pair of non-negative whole numbers', {
      details: { urlOffset: String(start).slice(0, 32), size: String(size).slice(0, 32) },
    });
  }
  // subfile takes end 0 as "to the end of the blob": an empty span at offset 0
  // would expose the whole archive. An empty file holds no video either way.
  if (size === 0) throw new ExhibitError('corrupt-file', 'the content is empty');
  return { start, size };
}

/** Input options placed before `-i`; they apply to the evidence input only. */
function hardenedInputArgs(protocols: readonly string[]): string[] {
  return [
    '-protocol_whitelist', protocols.join(','),
    '-format_whitelist', MEDIA_DEMUXERS.join(','),
    // microseconds; a stalled read fails instead of waiting for the overall timeout
    // (a subfile passes it on to the http connection inside it)
    '-rw_timeout', String(MEDIA_LIMITS.networkStallTimeoutMs * 1000),
  ];
}

const PATTERNS: Array<[RegExp, ExhibitErrorCode]> = [
  [/not on whitelist|Protocol not found|protocol_whitelist/i, 'unsupported-format'],
  [/Server returned 5\d\d|Connection refused|Connection timed out|Connection reset|Network is unreachable|I\/O error|Operation timed out|Server returned 403|Server returned 404/i, 'storage-unavailable'],
  [/Invalid data found when processing input|moov atom not found|could not find codec parameters|EBML header parsing failed/i, 'corrupt-file'],
];

/**
 * Turns a failed ffmpeg/ffprobe run into the error the pipeline records:
 * refused formats are 'unsupported-format', unreadable data 'corrupt-file',
 * transport problems 'storage-unavailable' (retryable: a fresh SAS URL may
 * work), anything else stays 'tool-failed'.
 */
export function classifyToolFailure(err: unknown): unknown {
  if (!isExhibitError(err, 'tool-failed')) return err;
  const details = err.details as Partial<ToolFailureDetails> | undefined;
  const stderr = details?.stderr ?? '';
  for (const [re, code] of PATTERNS) {
    const match = re.exec(stderr);
    // The matched phrase alone: the rest of stderr can differ from run to run.
    if (match) return new ExhibitError(code, `${details?.tool ?? 'ffmpeg'} failed: ${match[0]}`, { cause: err, details: err.details ?? {} });
  }
  return err;
}
