import type { KnownFileMatch } from '@exhibit/core';

const DIGEST_NAME = { sha256: 'SHA-256', sha1: 'SHA-1', md5: 'MD5', pdq: 'PDQ' } as const;

/** One line for a match, as status and custody show it: set, version, category and the digest that matched. */
export function knownFileDetail(m: KnownFileMatch): string {
  const version = m.version ? ` version ${m.version}` : '';
  const category = m.category === null ? '' : `, category ${m.category}${m.categoryName ? ` (${m.categoryName})` : ''}`;
  return `in ${m.kind} hash set "${m.name}"${version}${category}; matched on ${DIGEST_NAME[m.matchedOn]}${m.pdq ? `, ${pdqDetail(m.pdq)}` : ''}`;
}

/** How near a PDQ match is, where, and to what: a lead to look at, never proof (docs/known-files.md). */
export function pdqDetail(p: NonNullable<KnownFileMatch['pdq']>): string {
  // By the content's kind: a video frame whose time ffmpeg did not report is still a video frame, never "the picture".
  const where = p.timeMs !== null
    ? `video frame ${p.frame} at ${(p.timeMs / 1000).toFixed(3)} s`
    : p.video ? `video frame ${p.frame}, time unknown` : p.frame === 0 ? 'the picture' : `frame ${p.frame}`;
  const label = p.label !== null ? ` (${JSON.stringify(p.label.length > 200 ? p.label.slice(0, 200) + '…' : p.label)})` : '';
  return `distance ${p.distance} of 256 bits (set limit ${p.maxDistance}) on ${where}, listed hash ${p.listedHash}${label}`;
}
