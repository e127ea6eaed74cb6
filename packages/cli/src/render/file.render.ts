import type { FileFailure, ToolVersion } from '@exhibit/core';
import type { FileDetailBody, KnownFileMatchBody } from '../api/api-types.js';
import { formatBytes, formatCount, printable } from './format.js';
import { formatGps, formatRecordedTime } from './time.js';
import { cliCommand } from '../cli-hint.js';

/** EXIF Orientation values as exiftool names them. */
const ORIENTATION_NAMES: Record<number, string> = {
  1: 'Horizontal (normal)',
  2: 'Mirror horizontal',
  3: 'Rotate 180',
  4: 'Mirror vertical',
  5: 'Mirror horizontal and rotate 270 CW',
  6: 'Rotate 90 CW',
  7: 'Mirror horizontal and rotate 90 CW',
  8: 'Rotate 270 CW',
};

/** `Rotate 90 CW (6)`; a value outside 1-8 is shown as recorded, said to be unknown. */
export function formatOrientation(value: number | undefined | null): string {
  if (value === undefined || value === null) return '';
  const name = ORIENTATION_NAMES[value];
  return name ? `${name} (${value})` : `unknown value (${value})`;
}

const VERSION_BANNER_RE = /^(\S+) version (\S+)/;

/**
 * A tool and its version, e.g. `ffprobe 6.1.1`. Older records kept the whole
 * first line of `ffprobe -version` ("ffprobe version 6.1.1 Copyright (c) …")
 * as the version; only the version is shown from it.
 */
export function formatToolVersion(tool: ToolVersion): string {
  const banner = VERSION_BANNER_RE.exec(tool.version);
  const version = banner && banner[1] === tool.name ? (banner[2] ?? tool.version) : tool.version;
  return `${tool.name} ${version}`;
}

export function formatFailure(f: FileFailure): string {
  return `${f.stage}: ${f.code}: ${f.detail}`;
}

const sameFailure = (a: FileFailure | null, b: FileFailure | null) => a !== null && b !== null && a.stage === b.stage && a.code === b.code && a.detail === b.detail;

const DIGEST_NAMES = { sha256: 'SHA-256', sha1: 'SHA-1', md5: 'MD5', pdq: 'PDQ' } as const;

/**
 * A PDQ list's match: how near, where in the file, and what the list holds. Where is named by the
 * item's kind: a video frame whose time ffmpeg did not report is a video frame, never "the picture".
 */
function pdqMatchText(p: NonNullable<KnownFileMatchBody['pdq']>, video: boolean): string {
  const where = p.timeMs !== null
    ? `video frame ${p.frame} at ${(p.timeMs / 1000).toFixed(3)} s`
    : video || p.video === true ? `video frame ${p.frame}, time unknown` : p.frame === 0 ? 'the picture' : `frame ${p.frame}`;
  return `, distance ${p.distance}/256 (set limit ${p.maxDistance}) on ${where}; listed ${p.listedHash}${p.label !== null ? ` "${printable(p.label)}"` : ''}`;
}

type Line = { heading: string } | { label: string; value: string[] };

/**
 * Everything recorded about one file, its content and where it came from:
 * sections of labelled rows whose values start in one column.
 */
export function renderFileDetail(detail: FileDetailBody): string {
  const { file, content, provenance } = detail;
  const lines: Line[] = [];
  const heading = (text: string) => lines.push({ heading: text });
  const row = (label: string, value: string | number | null | undefined | string[]) => {
    const values = (Array.isArray(value) ? value : [value]).filter((v): v is string | number => v !== undefined && v !== null && v !== '');
    if (values.length > 0) lines.push({ label, value: values.map((v) => printable(String(v))) });
  };

  heading(`File ${printable(file.fileId)}`);
  row('path', file.path);
  if (file.recordedName !== file.name) row('recorded name', file.recordedName);
  row('evidence', `${file.caseId}/${file.evidenceId}`);
  row('kind', file.entryKind);
  if (file.linkTarget) row('link target', `${file.linkTarget} (recorded, not followed)`);
  row('size', file.size === null ? null : `${formatCount(file.size)} bytes (${formatBytes(file.size)})`);
  row('stage', file.stage);
  if (file.failure) row('failure', formatFailure(file.failure));
  if (file.flags.length) row('flags', file.flags.join(', '));
  if (file.memberCount !== null) row('members', `${file.memberCount} (unpack ${file.unpack})`);
  for (const key of ['modified', 'accessed', 'changed', 'created', 'deleted'] as const) {
    const t = file.archiveTimes[key];
    if (t) row(`archive ${key}`, `${formatRecordedTime(t, { long: true })} [${t.source}]`);
  }

  if (content) {
    heading('Content');
    row('sha256', content.sha256);
    row('sha1', content.sha1);
    row('md5', content.md5);
    row('type', [content.mime, content.kind && `(${content.kind})`, content.detectedExt && `.${content.detectedExt}`].filter(Boolean).join(' '));
    const m = content.metadata;
    if (m) {
      if (m.takenAt) row('taken at', `${formatRecordedTime(m.takenAt, { long: true })} [${m.takenAt.source}]`);
      if (m.takenAt?.utc) row('taken at (UTC)', m.takenAt.utc);
      for (const t of m.captureTimes?.slice(1) ?? []) row('also recorded', `${formatRecordedTime(t, { long: true })} [${t.source}]`);
      if (m.modifiedAt) row('modified at', `${formatRecordedTime(m.modifiedAt, { long: true })} [${m.modifiedAt.source}]`);
      row('device', [m.make, m.model].filter(Boolean).join(' '));
      row('software', m.software);
      row('GPS', formatGps(m.gps));
      if (m.gpsRecorded) {
        const at = (n: number | null) => (n === null ? 'not a number' : n.toFixed(5));
        row('GPS (recorded)', `${at(m.gpsRecorded.lat)},${at(m.gpsRecorded.lon)} ${m.gpsRecorded.flag}: not a location`);
      }
      if (m.width !== undefined && m.height !== undefined) row('dimensions', `${m.width} x ${m.height}`);
      if (m.declaredWidth !== undefined && m.declaredHeight !== undefined) row('declared size', `${m.declaredWidth} x ${m.declaredHeight} (EXIF)`);
      for (const f of m.findings ?? []) row('finding', `${f.flag}: ${f.detail}`);
      row('orientation', formatOrientation(m.orientation));
      row('duration', m.durationSec === undefined ? undefined : `${m.durationSec.toFixed(2)} s`);
      if (m.codecs?.length) row('codecs', m.codecs.join(', '));
      if (m.audioStream) row('audio', audioText(m.audioStream));
    }
    row('metadata', content.metadataStatus);
    row('thumbnail', content.thumbnailStatus + (content.thumbnailSource ? ` (from ${content.thumbnailSource})` : ''));
    // The picture a preview-differs finding compares with the image: kept, to be looked at beside the thumbnail.
    if (content.embeddedPreview) row('embedded preview', `kept (${cliCommand(`show ${file.caseId} ${file.fileId} --preview out.jpg`)} saves it)`);
    // The content's failure is normally the file's own, already shown above.
    if (content.failure && !sameFailure(content.failure, file.failure)) row('content failure', formatFailure(content.failure));
    // Findings about the bytes (unidentified, embedded archive, partially decoded, ...).
    for (const f of content.findings ?? []) row('finding', `${f.flag}: ${f.detail}`);
    row(
      'tools',
      Object.entries(content.tools)
        .filter(([, list]) => (list ?? []).length > 0)
        .map(([stage, list]) => `${stage}: ${(list ?? []).map(formatToolVersion).join(', ')}`),
    );
  }

  const known = detail.knownFileMatches ?? [];
  if (known.length > 0) {
    heading('Known files');
    // One row per set: what the set lists it as, which set and version, the source's category, and the digest that matched.
    for (const m of known) {
      const category = m.category === null ? null : `category ${m.category}${m.categoryName ? ` (${m.categoryName})` : ''}`;
      row(m.kind, `"${m.name}"${m.version ? ` version ${m.version}` : ''}${category ? `, ${category}` : ''}; matched on ${DIGEST_NAMES[m.matchedOn]}${m.pdq ? pdqMatchText(m.pdq, content?.kind === 'video') : ''}`);
    }
  }

  heading(`Provenance${provenance.complete ? '' : ' (INCOMPLETE: a parent could not be found)'}`);
  // From this file up to the uploaded blob it came out of.
  provenance.chain.forEach((link, i) => {
    const where = [link.entryIndex === null ? null : `entry #${link.entryIndex}`, `sha256 ${link.sha256 ?? '(none)'}`, link.mime].filter(Boolean).join(', ');
    row(i === 0 ? 'this file' : 'inside', [link.path, where]);
  });
  const u = provenance.upload;
  if (u) {
    const a = u.acquisition;
    row('uploaded as', [
      u.blobName,
      `${formatCount(u.size)} bytes, received ${u.receivedAt}, integrity ${u.integrity}`,
      ...(u.hashes ? [`sha256 ${u.hashes.sha256}`] : []),
    ]);
    row(
      'acquisition',
      [a.examiner && `examiner ${a.examiner}`, a.exhibitRef && `exhibit ${a.exhibitRef}`, a.sha256 && `sha256 ${a.sha256}`].filter((v): v is string => Boolean(v)),
    );
  }
  return layout(lines);
}

/** Labels in one column, at least two spaces before the values; continuation lines start under the value. */
function layout(lines: Line[]): string {
  const labelWidth = Math.max(0, ...lines.map((l) => ('label' in l ? l.label.length : 0))) + 2;
  const out: string[] = [];
  for (const l of lines) {
    if ('heading' in l) {
      if (out.length > 0) out.push('');
      out.push(l.heading);
      continue;
    }
    l.value.forEach((v, i) => out.push(`  ${(i === 0 ? l.label : '').padEnd(labelWidth)}${v}`));
  }
  return out.join('\n') + '\n';
}

/** An audio stream as a line: codec, sample rate, channels (what is stated). */
function audioText(a: { codec?: string; sampleRate?: number; channels?: number }): string {
  return [a.codec, a.sampleRate !== undefined ? `${a.sampleRate} Hz` : undefined, a.channels !== undefined ? `${a.channels} ch` : undefined].filter((p) => p !== undefined).join(', ');
}
