import { ExhibitError } from '@exhibit/core';
import type { HashSetFormat } from './hash-set.types.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const HEX_LINE = /^[0-9a-fA-F]{32}([0-9a-fA-F]{8})?([0-9a-fA-F]{24})?\s*$/;
/** A PDQ list line with its comma fields (`exhibit pdq` and the reference tool print `<hash>,<quality>,<path>`). */
const PDQ_LINE = /^[0-9a-fA-F]{64},/;
const CHECKSUM_LINE = /^(\\?[0-9a-fA-F]{32,64} [ *].+|(MD5|SHA1|SHA256) \(.*\) = [0-9a-fA-F]+)$/;

/**
 * Decides a hash-set file's format from its first bytes, never from its
 * name: a renamed file is still read for what it is, and a file that is none
 * of the supported formats is refused with the list of what is supported.
 */
export function detectHashSetFormat(head: Buffer): HashSetFormat {
  if (head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) return 'nsrl-rds-v3';
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new ExhibitError('unsupported-format', 'the file is UTF-16 text: convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)');
  }
  let text = head.toString('utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    if (/"(odata\.metadata|@odata\.context)"\s*:/.test(trimmed) || /"value"\s*:\s*\[/.test(trimmed)) return 'vics-json';
    throw unknown('a JSON document without an OData "value" array (not Project VIC / CAID VICS)');
  }
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const first = lines[0] ?? '';
  if (first.trim() === '%%%% HASHDEEP-1.0') return 'hashdeep';
  const lower = first.toLowerCase();
  if (/(^|,)"?hashset_id"?(,|$)/.test(lower) && /(^|,)"?hash"?(,|$)/.test(lower)) return 'hashkeeper';
  if (lower.includes(';') && /(^|;)\s*"?(md5|sha1|sha-1|sha256|sha-256)"?\s*(;|$)/.test(lower)) return 'icse-csv';
  const firstData = lines.find((l) => l.trim() !== '' && !l.startsWith('#'));
  if (firstData === undefined) throw unknown('an empty file');
  if (CHECKSUM_LINE.test(firstData)) return 'checksum-list';
  // A bare 64-hex line is a SHA-256 as far as content can tell; a PDQ list of bare hashes needs --format pdq.
  if (PDQ_LINE.test(firstData.trim())) return 'pdq-list';
  if (HEX_LINE.test(firstData.trim())) return 'hash-list';
  throw unknown(`its first line (${JSON.stringify(firstData.slice(0, 60))}) is no known layout`);
}

function unknown(why: string): ExhibitError {
  return new ExhibitError(
    'unsupported-format',
    `not a supported hash-set file: ${why}. Supported: NSRL RDS v3 (SQLite), Project VIC / CAID VICS JSON, Interpol ICSE CSV (;), ` +
      'md5sum/sha1sum/sha256sum output, hashdeep, HashKeeper, one hash per line, PDQ lists (<hash>,<quality>,<label>)',
  );
}
