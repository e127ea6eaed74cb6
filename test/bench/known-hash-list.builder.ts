/**
 * A synthetic known-file list for `npm run bench -- --known-hashes N`
 * (issue 14): N rows of random digests in the Interpol ICSE CSV layout
 * (`MD5;SHA1;SHA256;Size`, `;`-separated, empty fields allowed), with the
 * digest mix of the lists examiners load: most rows carry all three digests
 * (as NSRL RDS rows do), a quarter MD5 and SHA-1 only (as older CAID / VICS
 * exports), some MD5 alone and some SHA-256 alone. Planted rows (digests of
 * real corpus members) are spread through the list so that matching finds
 * something. Deterministic: the same seed, count and planted rows give the
 * same bytes (the digests are an AES-128-CTR keystream keyed by the seed, so
 * row i's digests depend on i alone, however the rows are batched). Pure but
 * for writeKnownHashList, for unit tests.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export const KNOWN_HASH_LIST_HEADER = 'MD5;SHA1;SHA256;Size';

/** Keystream bytes per row: MD5 (16), SHA-1 (20), SHA-256 (32), size (4); the same for every row kind. */
const ROW_BYTES = 16 + 20 + 32 + 4;

/** Which digests row i carries, by i mod 20: 60 % all three, 25 % MD5 + SHA-1, 10 % MD5, 5 % SHA-256. */
export type RowShape = 'all' | 'md5-sha1' | 'md5' | 'sha256';
export function rowShape(i: number): RowShape {
  const k = i % 20;
  return k < 12 ? 'all' : k < 17 ? 'md5-sha1' : k < 19 ? 'md5' : 'sha256';
}

/** A row that must match: the digests a list states for one corpus member (lower-case hex; null leaves the field empty). */
export interface PlantedRow {
  md5: string | null;
  sha1: string | null;
  sha256: string | null;
  size: number | null;
}

export interface KnownHashListOptions {
  /** Generated rows (the planted rows come on top). */
  rows: number;
  seed: string;
  planted?: readonly PlantedRow[];
  /** Generated rows per yielded batch of lines. */
  batchRows?: number;
}

function keystream(seed: string) {
  const key = createHash('sha256').update(`known-hash-list:${seed}`).digest();
  return { key: key.subarray(0, 16), iv: key.subarray(16, 32) };
}

/** After which generated row planted row k goes: spread evenly, the last ones before the end. */
export function plantedPositions(rows: number, planted: number): number[] {
  return Array.from({ length: planted }, (_, k) => Math.floor(((k + 1) * rows) / (planted + 1)));
}

function plantedLine(p: PlantedRow): string {
  return `${p.md5 ?? ''};${p.sha1 ?? ''};${p.sha256 ?? ''};${p.size ?? ''}\n`;
}

/**
 * The list's text in batches (the header first): generated row i's digests
 * are bytes [i·72, i·72 + 72) of the keystream, each field in hex.
 */
export function* knownHashListChunks(options: KnownHashListOptions): Generator<string> {
  const { rows, seed } = options;
  const planted = options.planted ?? [];
  if (!Number.isInteger(rows) || rows < 0) throw new Error(`rows must be a whole number, got ${rows}`);
  const batchRows = options.batchRows ?? 10_000;
  const positions = plantedPositions(rows, planted.length);
  const { key, iv } = keystream(seed);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  let nextPlanted = 0;
  yield `${KNOWN_HASH_LIST_HEADER}\n`;
  for (let start = 0; start < rows || nextPlanted < planted.length; start += batchRows) {
    const n = Math.max(0, Math.min(batchRows, rows - start));
    const hex = cipher.update(Buffer.alloc(n * ROW_BYTES)).toString('hex');
    let text = '';
    // Planted rows due before the first row of this batch (a list of no generated rows has them all here).
    while (nextPlanted < planted.length && (positions[nextPlanted]! <= start || n === 0)) text += plantedLine(planted[nextPlanted++]!);
    for (let j = 0; j < n; j++) {
      const i = start + j;
      const o = j * ROW_BYTES * 2;
      const md5 = hex.slice(o, o + 32);
      const sha1 = hex.slice(o + 32, o + 72);
      const sha256 = hex.slice(o + 72, o + 136);
      // Sizes of everyday files: up to 16 MiB.
      const size = Number.parseInt(hex.slice(o + 136, o + 144), 16) % (16 * 1024 * 1024);
      const shape = rowShape(i);
      text +=
        shape === 'all' ? `${md5};${sha1};${sha256};${size}\n`
        : shape === 'md5-sha1' ? `${md5};${sha1};;${size}\n`
        : shape === 'md5' ? `${md5};;;${size}\n`
        : `;;${sha256};${size}\n`;
      while (nextPlanted < planted.length && positions[nextPlanted] === i + 1) text += plantedLine(planted[nextPlanted++]!);
    }
    if (text !== '') yield text;
    if (n === 0) break;
  }
}

/** Streams the list to a file; resolves with its byte count. */
export async function writeKnownHashList(file: string, options: KnownHashListOptions): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  for (const chunk of knownHashListChunks(options)) {
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return bytes;
}
