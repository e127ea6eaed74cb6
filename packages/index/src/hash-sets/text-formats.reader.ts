import { ExhibitError } from '@exhibit/core';
import { DIGEST_HEX_CHARS, type HashSetFormat, type HashSetReader, type HashSetRow, type RowError } from './hash-set.types.js';
import { readLineBatches, type TextLine } from './line-reader.js';

type Digest = 'md5' | 'sha1' | 'sha256';
const HEX = /^[0-9a-fA-F]+$/;
const BY_LENGTH = new Map<number, Digest>([[32, 'md5'], [40, 'sha1'], [64, 'sha256']]);

function rowError(line: number, reason: RowError['reason'], detail: string): RowError {
  return { line, unit: 'line', reason, detail };
}

/** A hex digest checked for alphabet, then length (and the expected algorithm, if the format names one). */
export function checkDigest(raw: string, line: number, expected?: Digest): { digest: Digest; hex: string } | RowError {
  if (raw === '' || !HEX.test(raw)) return rowError(line, 'bad-hex', `not hexadecimal: ${JSON.stringify(raw.slice(0, 80))}`);
  const digest = expected ?? BY_LENGTH.get(raw.length);
  if (!digest || raw.length !== DIGEST_HEX_CHARS[digest]) {
    return rowError(line, 'wrong-length', expected
      ? `${expected} needs ${DIGEST_HEX_CHARS[expected]} hex digits, got ${raw.length}`
      : `${raw.length} hex digits is neither MD5 (32), SHA-1 (40) nor SHA-256 (64)`);
  }
  return { digest, hex: raw.toLowerCase() };
}

function emptyRow(): HashSetRow {
  return { md5: null, sha1: null, sha256: null, category: null, size: null, extra: null };
}

/**
 * The rules every text format shares (see docs/known-files.md): a UTF-8 BOM
 * is accepted only at the very start of the file; a file's line ending is set
 * by its first line, and a CR in a file of LF lines (or a lone CR inside a
 * line) is a malformed row; a line over the length limit is a malformed row.
 */
function lineChecker(onError: (e: RowError) => void): (line: TextLine) => boolean {
  let crlfFile: boolean | null = null;
  return (line) => {
    if (line.tooLong) {
      onError(rowError(line.number, 'line-too-long', 'line is longer than the limit'));
      return false;
    }
    if (line.bom && line.number !== 1) {
      onError(rowError(line.number, 'bom', 'byte-order mark inside the file (two files joined?)'));
      return false;
    }
    crlfFile ??= line.cr;
    const loneCr = line.text.includes('\r');
    if (loneCr || (line.cr && !crlfFile)) {
      onError(rowError(line.number, 'crlf', loneCr ? 'carriage return inside the line' : 'CR LF ending in a file of LF lines'));
      return false;
    }
    return true;
  };
}

/** Splits one CSV line on `sep`, honouring double quotes ("" inside quotes is a quote). Null if the quoting is broken. */
export function splitCsvLine(text: string, sep: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q === -1) return null;
        value += text.slice(i, q);
        if (text[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== sep) return null;
      i += 1;
    } else {
      const s = text.indexOf(sep, i);
      if (s === -1) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, s));
      i = s + 1;
    }
  }
}

type LineParser = (line: TextLine, onError: (e: RowError) => void) => HashSetRow | null;

function lineReader(format: HashSetFormat, open: () => AsyncIterable<Buffer | string>, makeParser: () => LineParser): HashSetReader {
  return {
    info: { format, sourceVersion: null },
    async *rows(onError, abortSignal) {
      const parse = makeParser();
      const ok = lineChecker(onError);
      for await (const lines of readLineBatches(open())) {
        if (abortSignal?.aborted) throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
        const rows: HashSetRow[] = [];
        for (const line of lines) {
          if (!ok(line)) continue;
          const row = parse(line, onError);
          if (row) rows.push(row);
        }
        if (rows.length > 0) yield rows;
      }
    },
  };
}

/** One digest per line (mixed lengths allowed); blank lines and `#` comments are skipped. */
export function hashListReader(open: () => AsyncIterable<Buffer | string>): HashSetReader {
  return lineReader('hash-list', open, () => (line, onError) => {
    const text = line.text.trim();
    if (text === '' || text.startsWith('#')) return null;
    if (/\s/.test(text)) {
      onError(rowError(line.number, 'field-count', 'more than one field on a one-hash-per-line list'));
      return null;
    }
    const d = checkDigest(text, line.number);
    if ('reason' in d) return void onError(d), null;
    return { ...emptyRow(), [d.digest]: d.hex };
  });
}

const GNU_LINE = /^\\?([^\s]+) [ *](.+)$/;
const BSD_LINE = /^(MD5|SHA1|SHA256) \((.*)\) = ([^\s]+)$/;
const BSD_DIGEST: Record<string, Digest> = { MD5: 'md5', SHA1: 'sha1', SHA256: 'sha256' };

/** md5sum / sha1sum / sha256sum output, text or binary mode, and the BSD `--tag` form. */
export function checksumListReader(open: () => AsyncIterable<Buffer | string>): HashSetReader {
  return lineReader('checksum-list', open, () => (line, onError) => {
    if (line.text.trim() === '') return null;
    const bsd = BSD_LINE.exec(line.text);
    const gnu = bsd ? null : GNU_LINE.exec(line.text);
    if (!bsd && !gnu) {
      onError(rowError(line.number, 'field-count', 'expected "<digest>  <file name>" or "ALGO (name) = <digest>"'));
      return null;
    }
    const d = bsd ? checkDigest(bsd[3] ?? '', line.number, BSD_DIGEST[bsd[1] ?? '']) : checkDigest(gnu?.[1] ?? '', line.number);
    if ('reason' in d) return void onError(d), null;
    return { ...emptyRow(), [d.digest]: d.hex };
  });
}

/** hashdeep / md5deep -c output: `%%%% HASHDEEP-1.0`, a `%%%% size,md5,...,filename` header, `##` comments. */
export function hashdeepReader(open: () => AsyncIterable<Buffer | string>): HashSetReader {
  return lineReader('hashdeep', open, () => {
    let columns: string[] | null = null;
    return (line, onError) => {
      const text = line.text;
      if (line.number === 1) {
        if (text.trim() !== '%%%% HASHDEEP-1.0') onError(rowError(1, 'bad-value', 'first line must be %%%% HASHDEEP-1.0'));
        return null;
      }
      if (text.startsWith('%%%% ')) {
        if (columns === null) columns = text.slice(5).trim().split(',').map((c) => c.trim().toLowerCase());
        return null;
      }
      if (text.startsWith('#') || text.trim() === '') return null;
      if (!columns || columns[columns.length - 1] !== 'filename') {
        onError(rowError(line.number, 'field-count', 'no "%%%% size,...,filename" header before the first row'));
        return null;
      }
      const fields = text.split(',');
      if (fields.length < columns.length) {
        onError(rowError(line.number, 'field-count', `${fields.length} fields, the header names ${columns.length}`));
        return null;
      }
      const row = emptyRow();
      for (let i = 0; i < columns.length - 1; i++) {
        const col = columns[i];
        const value = fields[i] ?? '';
        if (col === 'size') {
          if (!/^\d+$/.test(value)) return void onError(rowError(line.number, 'bad-value', `size is not a number: ${JSON.stringify(value.slice(0, 40))}`)), null;
          row.size = Number(value);
        } else if (col === 'md5' || col === 'sha1' || col === 'sha256') {
          const d = checkDigest(value, line.number, col);
          if ('reason' in d) return void onError(d), null;
          row[col] = d.hex;
        }
      }
      if (!row.md5 && !row.sha1 && !row.sha256) return void onError(rowError(line.number, 'no-hash', 'no MD5, SHA-1 or SHA-256 column')), null;
      return row;
    };
  });
}

/**
 * A CSV with a header row naming its columns: HashKeeper (`,`, the `hash`
 * column is an MD5) and Interpol ICSE exports (`;`, columns named MD5, SHA1,
 * SHA256 and optionally Category and a size).
 */
function headedCsvReader(format: 'hashkeeper' | 'icse-csv', sep: string, open: () => AsyncIterable<Buffer | string>): HashSetReader {
  const alias: Record<string, keyof HashSetRow> =
    format === 'hashkeeper'
      ? { hash: 'md5', file_size: 'size' }
      : { md5: 'md5', sha1: 'sha1', 'sha-1': 'sha1', sha256: 'sha256', 'sha-256': 'sha256', category: 'category', size: 'size', filesize: 'size', mediasize: 'size' };
  return lineReader(format, open, () => {
    let header: Array<keyof HashSetRow | null> | null = null;
    return (line, onError) => {
      if (line.text.trim() === '') return null;
      const fields = splitCsvLine(line.text, sep);
      if (!fields) return void onError(rowError(line.number, 'field-count', 'unbalanced quotes')), null;
      if (!header) {
        header = fields.map((f) => alias[f.trim().toLowerCase()] ?? null);
        if (!header.some((h) => h === 'md5' || h === 'sha1' || h === 'sha256')) {
          onError(rowError(line.number, 'no-hash', 'the header names no hash column'));
        }
        return null;
      }
      if (fields.length !== header.length) {
        onError(rowError(line.number, 'field-count', `${fields.length} fields, the header has ${header.length}`));
        return null;
      }
      const row = emptyRow();
      for (let i = 0; i < header.length; i++) {
        const col = header[i];
        const value = (fields[i] ?? '').trim();
        if (col === null || col === 'extra') continue;
        if (col === 'md5' || col === 'sha1' || col === 'sha256') {
          if (value === '') continue;
          const d = checkDigest(value, line.number, col);
          if ('reason' in d) return void onError(d), null;
          row[col] = d.hex;
        } else if (col === 'size' || col === 'category') {
          if (value === '') continue;
          if (!/^\d{1,15}$/.test(value)) return void onError(rowError(line.number, 'bad-value', `${col} is not a number: ${JSON.stringify(value.slice(0, 40))}`)), null;
          if (col === 'category' && Number(value) > 32767) return void onError(rowError(line.number, 'bad-value', `category ${value} is out of range`)), null;
          row[col] = Number(value);
        }
      }
      if (!row.md5 && !row.sha1 && !row.sha256) return void onError(rowError(line.number, 'no-hash', 'row has no hash')), null;
      return row;
    };
  });
}

export const hashkeeperReader = (open: () => AsyncIterable<Buffer | string>) => headedCsvReader('hashkeeper', ',', open);
export const icseCsvReader = (open: () => AsyncIterable<Buffer | string>) => headedCsvReader('icse-csv', ';', open);

/** The longest label a PDQ list row may carry (the reference tool's third field is a file path). */
export const PDQ_LABEL_MAX_CHARS = 4096;
const PDQ_HEX_CHARS = 64;

/**
 * A PDQ hash list: one 64-hex PDQ hash per line, optionally followed by
 * `,<quality>` and/or `,<label>`; the reference tool's (and `exhibit pdq`'s)
 * `<hash>,<quality>,<path>` is the full form. A second field of digits only is
 * the quality and must be 0-100; anything else there starts the label, which
 * runs to the end of the line (a path may hold commas). Blank lines and `#`
 * comments are skipped. The label is kept as data (`extra.label`).
 */
export function pdqListReader(open: () => AsyncIterable<Buffer | string>): HashSetReader {
  return lineReader('pdq-list', open, () => (line, onError) => {
    const text = line.text;
    if (text.trim() === '' || text.startsWith('#')) return null;
    const comma = text.indexOf(',');
    const rawHash = (comma === -1 ? text : text.slice(0, comma)).trim();
    if (rawHash === '' || !HEX.test(rawHash)) return void onError(rowError(line.number, 'bad-hex', `not hexadecimal: ${JSON.stringify(rawHash.slice(0, 80))}`)), null;
    if (rawHash.length !== PDQ_HEX_CHARS) return void onError(rowError(line.number, 'wrong-length', `a PDQ hash is ${PDQ_HEX_CHARS} hex digits, got ${rawHash.length}`)), null;
    const row: HashSetRow = { ...emptyRow(), pdq: rawHash.toLowerCase(), pdqQuality: null };
    if (comma === -1) return row;
    let rest = text.slice(comma + 1);
    const next = rest.indexOf(',');
    const second = (next === -1 ? rest : rest.slice(0, next)).trim();
    if (/^\d+$/.test(second)) {
      const quality = Number(second);
      if (second.length > 3 || quality > 100) return void onError(rowError(line.number, 'bad-value', `PDQ quality is 0-100, got ${JSON.stringify(second.slice(0, 20))}`)), null;
      row.pdqQuality = quality;
      if (next === -1) return row;
      rest = rest.slice(next + 1);
    }
    if (rest.trim() === '') return void onError(rowError(line.number, 'field-count', 'empty field after a comma (expected a quality 0-100 or a label)')), null;
    if (rest.length > PDQ_LABEL_MAX_CHARS) return void onError(rowError(line.number, 'bad-value', `label longer than ${PDQ_LABEL_MAX_CHARS} characters`)), null;
    row.extra = { label: rest };
    return row;
  });
}
