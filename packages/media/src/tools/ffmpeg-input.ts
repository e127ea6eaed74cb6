import { ExhibitError, isExhibitError, type ExhibitErrorCode } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import type { ToolFailureDetails } from './run-tool.js';

/**
 * Protocols ffmpeg/ffprobe may open: the blob's http(s) URL and what https is
 * built on. Everything else (file, pipe, crypto, data, concat, subfile, ...)
 * is refused, so a crafted input cannot make the tool read local files.
 */
export const ALLOWED_PROTOCOLS = ['http', 'https', 'tcp', 'tls'] as const;

/**
 * Demuxers allowed to open the input. Playlist and indirection formats
 * (hls, concat, dash, image2, tee, ...) are not here: they open further
 * URLs named inside the evidence.
 */
export const VIDEO_DEMUXERS = [
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
] as const;

/** Input options placed before `-i`; they apply to the evidence input only. */
export function hardenedInputArgs(): string[] {
  return [
    '-protocol_whitelist', ALLOWED_PROTOCOLS.join(','),
    '-format_whitelist', VIDEO_DEMUXERS.join(','),
    // microseconds; a stalled read fails instead of waiting for the overall timeout
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
    if (re.test(stderr)) return new ExhibitError(code, err.message, { cause: err, details: err.details ?? {} });
  }
  return err;
}
