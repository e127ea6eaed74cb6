import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import streamJson from 'stream-json';
import Pick from 'stream-json/filters/Pick.js';
import StreamArray from 'stream-json/streamers/StreamArray.js';
import { ExhibitError, errorMessage } from '@exhibit/core';
import { HASH_SET_LIMITS } from './hash-set-limits.js';
import { checkDigest } from './text-formats.reader.js';
import type { HashSetReader, HashSetRow, RowError } from './hash-set.types.js';

/** Fields kept as data, under these names, when an entry has them; never interpreted (PhotoDNA is never computed). */
const KEPT_FIELDS: Record<string, string> = {
  MediaID: 'mediaId',
  Series: 'series',
  VictimIdentified: 'victimIdentified',
  OffenderIdentified: 'offenderIdentified',
  IsDistributed: 'isDistributed',
  Tags: 'tags',
  PhotoDNA: 'photoDna',
};

/** The OData model a document declares in its first bytes: 1.x has `odata.metadata`, 2.0 `@odata.context`. */
export function vicsModel(head: string): string | null {
  const v2 = /"@odata\.context"\s*:\s*"([^"]{0,300})"/.exec(head);
  if (v2) return `VICS 2.0 (${v2[1]})`;
  const v1 = /"odata\.metadata"\s*:\s*"([^"]{0,300})"/.exec(head);
  if (v1) return `VICS 1.x (${v1[1]})`;
  return null;
}

/**
 * Stops the token stream when one `value` entry grows past the limit, so an
 * entry is never assembled beyond it (the tokens are counted before
 * StreamArray builds the entry).
 */
class EntryBudget extends Transform {
  private depth = 0;
  private bytes = 0;
  private entry = 0;
  constructor(private readonly maxBytes: number) {
    super({ objectMode: true });
  }
  override _transform(token: { name: string; value?: unknown }, _enc: BufferEncoding, done: TransformCallback): void {
    if (token.name === 'startObject' || token.name === 'startArray') {
      if (this.depth === 1) {
        this.entry += 1;
        this.bytes = 0;
      }
      this.depth += 1;
    } else if (token.name === 'endObject' || token.name === 'endArray') this.depth -= 1;
    this.bytes += typeof token.value === 'string' ? token.value.length + 4 : 4;
    if (this.depth > 1 && this.bytes > this.maxBytes) {
      done(new ExhibitError('limit-exceeded', `VICS entry ${this.entry} is larger than ${this.maxBytes} bytes`));
      return;
    }
    done(null, token);
  }
}

function entryRow(entry: unknown, n: number, onError: (e: RowError) => void): HashSetRow[] {
  const err = (reason: RowError['reason'], detail: string) => onError({ line: n, unit: 'entry', reason, detail });
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    err('bad-json', 'entry is not an object');
    return [];
  }
  const e = entry as Record<string, unknown>;
  let category: number | null = null;
  if (e.Category !== undefined && e.Category !== null) {
    const c = typeof e.Category === 'string' && /^\d{1,6}$/.test(e.Category) ? Number(e.Category) : e.Category;
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 32767) {
      err('bad-value', `Category is not a category number: ${JSON.stringify(e.Category).slice(0, 40)}`);
      return [];
    }
    category = c;
  }
  let size: number | null = null;
  if (e.MediaSize !== undefined && e.MediaSize !== null) {
    if (typeof e.MediaSize !== 'number' || !Number.isSafeInteger(e.MediaSize) || e.MediaSize < 0) {
      err('bad-value', `MediaSize is not a byte count: ${JSON.stringify(e.MediaSize).slice(0, 40)}`);
      return [];
    }
    size = e.MediaSize;
  }
  const extra: Record<string, unknown> = {};
  for (const [from, to] of Object.entries(KEPT_FIELDS)) if (e[from] !== undefined && e[from] !== null) extra[to] = e[from];

  // The entry's own hashes, and those of each of its MediaFiles (2.0 keeps the bytes' hashes there too).
  const holders: Array<Record<string, unknown>> = [e];
  if (Array.isArray(e.MediaFiles)) for (const f of e.MediaFiles) if (typeof f === 'object' && f !== null) holders.push(f as Record<string, unknown>);
  const rows: HashSetRow[] = [];
  const seen = new Set<string>();
  for (const h of holders) {
    const row: HashSetRow = { md5: null, sha1: null, sha256: null, category, size, extra: Object.keys(extra).length > 0 ? extra : null };
    for (const [key, digest] of [['MD5', 'md5'], ['SHA1', 'sha1'], ['SHA256', 'sha256']] as const) {
      const value = h[key];
      if (value === undefined || value === null || value === '') continue;
      if (typeof value !== 'string') {
        err('bad-hex', `${key} is not a string`);
        return [];
      }
      const d = checkDigest(value, n, digest);
      if ('reason' in d) {
        onError({ ...d, unit: 'entry' });
        return [];
      }
      row[digest] = d.hex;
    }
    const key = `${row.md5}|${row.sha1}|${row.sha256}`;
    if ((row.md5 || row.sha1 || row.sha256) && !seen.has(key)) {
      seen.add(key);
      rows.push(row);
    }
  }
  if (rows.length === 0) err('no-hash', 'entry has no MD5, SHA1 or SHA256 (PhotoDNA alone cannot be matched exactly)');
  return rows;
}

/**
 * Project VIC / CAID VICS JSON, streamed: only one `value` entry is held at
 * a time. A broken JSON structure stops the read (there is no next line to
 * resume at) and is reported as a fatal error with how far the read got.
 */
export function vicsJsonReader(open: () => Readable, head: string): HashSetReader {
  return {
    info: { format: 'vics-json', sourceVersion: vicsModel(head) },
    async *rows(onError, abortSignal) {
      const entries = StreamArray.streamArray();
      const done = pipeline(
        [open(), streamJson.parser(), Pick.pick({ filter: 'value' }), new EntryBudget(HASH_SET_LIMITS.maxJsonEntryBytes), entries],
        abortSignal ? { signal: abortSignal } : {},
      ).catch((err: unknown) => {
        throw err instanceof ExhibitError ? err : new ExhibitError('corrupt-file', `not valid JSON: ${errorMessage(err)}`, { cause: err });
      });
      let failure: unknown = null;
      done.catch((err: unknown) => {
        failure = err;
      });
      let count = 0;
      try {
        for await (const item of entries as AsyncIterable<{ key: number; value: unknown }>) {
          count += 1;
          const rows = entryRow(item.value, item.key + 1, onError);
          if (rows.length > 0) yield rows;
        }
      } catch (err) {
        failure ??= err;
      }
      await done.catch(() => undefined);
      if (abortSignal?.aborted) throw new ExhibitError('aborted', 'import stopped; run it again with the same file to continue');
      if (failure) throw failure instanceof ExhibitError ? failure : new ExhibitError('corrupt-file', `not valid JSON: ${errorMessage(failure)}`, { cause: failure });
      if (count === 0) throw new ExhibitError('corrupt-file', 'the VICS document has no entries in its "value" array');
    },
  };
}
