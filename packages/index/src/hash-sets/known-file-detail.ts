import type { KnownFileMatch } from '@exhibit/core';

const DIGEST_NAME = { sha256: 'SHA-256', sha1: 'SHA-1', md5: 'MD5' } as const;

/** One line for a match, as status and custody show it: set, version, category and the digest that matched. */
export function knownFileDetail(m: KnownFileMatch): string {
  const version = m.version ? ` version ${m.version}` : '';
  const category = m.category === null ? '' : `, category ${m.category}${m.categoryName ? ` (${m.categoryName})` : ''}`;
  return `in ${m.kind} hash set "${m.name}"${version}${category}; matched on ${DIGEST_NAME[m.matchedOn]}`;
}
