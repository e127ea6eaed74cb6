import { Readable } from 'node:stream';
import { ExhibitError } from '@exhibit/core';
import { isTarHeader } from './tar-header.js';

/**
 * GNU tar's sparse members in PAX archives (`tar --format=posix -S`, how VM
 * disks and databases are archived). tar-stream knows nothing of them: it
 * hands over the stored ("condensed") bytes under the placeholder name
 * `./GNUSparseFile.<pid>/<name>`, and in format 1.0 with the sparse map in
 * front of the data, so the member was recorded with the wrong name, size
 * and hashes. Here the PAX records are read for the real name and size, and
 * the condensed bytes are expanded back into the file GNU tar would extract
 * (holes as zeros). Format 0.0 repeats its `GNU.sparse.offset` and
 * `GNU.sparse.numbytes` records, of which tar-stream keeps only the last, so
 * its map is gone unless it has one block: such a member fails
 * 'unsupported-format' rather than being recorded with bytes it does not hold.
 *
 * The old GNU format (`tar --sparse --format=gnu|oldgnu`) has its own type,
 * 'S', with the map in the header (four entries at offset 386, the real size
 * at 483) and, past four entries, in extension blocks between the header and
 * the data (isextended at 482 and 504). tar-stream knows neither: it gave
 * the member as kind 'other' and read the extension blocks as data, so the
 * next header was looked for in the wrong place. tar.parser.ts takes the
 * extension blocks out of the stream and parses them here.
 */

/** Map entries a sparse member may declare; each is two numbers, so the map itself stays small. */
export const MAX_SPARSE_MAP_ENTRIES = 1_000_000;
/** Longest decimal number in a 1.0 map (a 64-bit offset has 20 digits). */
const MAX_MAP_NUMBER_DIGITS = 20;
const BLOCK = 512;
const ZEROS = Buffer.alloc(64 * 1024);

export interface SparseMember {
  version: '0.0' | '0.1' | '1.0' | 'old-gnu';
  /** The real name (GNU.sparse.name), when recorded; 0.0 keeps it in the header. */
  name: string | undefined;
  /** The expanded file's size, when it is a plausible number. */
  realSize: number | null;
  /** The map from the PAX records (0.1; 0.0 with one block); 1.0 carries it in the data. */
  map: Array<[offset: number, length: number]> | null;
  /** Why the map cannot be trusted (an old GNU map with an unreadable number, or too long): the member fails corrupt-file. */
  problem?: string;
}

/** An old GNU sparse member's map as read so far; `extended` while extension blocks follow. */
export interface OldGnuSparse extends SparseMember {
  version: 'old-gnu';
  map: Array<[offset: number, length: number]>;
  extended: boolean;
  /** An empty entry was met: GNU tar takes no entry after it. */
  ended: boolean;
}

/** GNU tar's header magic ("ustar  \0"), written by --format=gnu and oldgnu. */
const GNU_MAGIC = Buffer.from('ustar  \0', 'latin1');

/** A 512-byte block that is an old GNU sparse header ('S') with a valid checksum. */
export function isOldGnuSparseHeader(block: Buffer): boolean {
  return block.length === BLOCK && block[156] === 0x53 && block.subarray(257, 265).equals(GNU_MAGIC) && isTarHeader(block);
}

/** The map and real size in an old GNU sparse header (see isOldGnuSparseHeader). */
export function oldGnuSparseHeader(block: Buffer): OldGnuSparse {
  const realSize = tarNumber(block.subarray(483, 495));
  const sparse: OldGnuSparse = { version: 'old-gnu', name: undefined, realSize, map: [], extended: block[482] !== 0, ended: false };
  if (realSize === null) sparse.problem = 'its real size is unreadable';
  addEntries(sparse, block, 386, 4);
  return sparse;
}

/** Adds an extension block's entries (21 of them) to the map; its flag says whether another block follows. */
export function addOldGnuSparseExtension(sparse: OldGnuSparse, block: Buffer): void {
  addEntries(sparse, block, 0, 21);
  sparse.extended = block[504] !== 0;
}

/** Entries of 12-byte offset and length; as in GNU tar, the first whose length starts with NUL ends the map. */
function addEntries(sparse: OldGnuSparse, block: Buffer, at: number, count: number): void {
  for (let i = 0; i < count && !sparse.ended; i += 1) {
    const slot = at + i * 24;
    if (block[slot + 12] === 0) {
      sparse.ended = true;
      break;
    }
    if (sparse.problem !== undefined) continue;
    const offset = tarNumber(block.subarray(slot, slot + 12));
    const length = tarNumber(block.subarray(slot + 12, slot + 24));
    if (offset === null || length === null) sparse.problem = `unreadable number in map entry ${sparse.map.length}`;
    else if (sparse.map.length >= MAX_SPARSE_MAP_ENTRIES) sparse.problem = `its map has more than ${MAX_SPARSE_MAP_ENTRIES} entries`;
    else sparse.map.push([offset, length]);
  }
}

/** A tar numeric field: octal (leading spaces, ended by NUL or space) or GNU base-256; null if unreadable or negative. */
function tarNumber(field: Buffer): number | null {
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) return null;
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i += 1) value = value * 256 + field[i]!;
    return Number.isSafeInteger(value) ? value : null;
  }
  const text = field.toString('latin1').replace(/^ +/, '').replace(/[\0 ].*$/s, '');
  if (!/^[0-7]{1,22}$/.test(text)) return null;
  const value = parseInt(text, 8);
  return Number.isSafeInteger(value) ? value : null;
}

const decimal = (text: string | undefined): number | null => (text !== undefined && /^\d{1,20}$/.test(text.trim()) && Number.isSafeInteger(Number(text)) ? Number(text) : null);

/** The sparse description in a member's PAX records, or null for an ordinary member. */
export function sparseMemberOf(pax: Record<string, string> | null | undefined): SparseMember | null {
  if (!pax) return null;
  const name = pax['GNU.sparse.name'];
  if (pax['GNU.sparse.major'] === '1' && pax['GNU.sparse.minor'] === '0') {
    return { version: '1.0', name, realSize: decimal(pax['GNU.sparse.realsize']), map: null };
  }
  if (pax['GNU.sparse.map'] !== undefined) {
    const numbers = pax['GNU.sparse.map'].split(',').map((n) => decimal(n));
    const valid = numbers.length % 2 === 0 && numbers.length / 2 <= MAX_SPARSE_MAP_ENTRIES && numbers.every((n) => n !== null);
    const map = valid ? pairs(numbers as number[]) : null;
    return { version: '0.1', name, realSize: decimal(pax['GNU.sparse.size']), map };
  }
  if (pax['GNU.sparse.size'] !== undefined || pax['GNU.sparse.numblocks'] !== undefined || pax['GNU.sparse.offset'] !== undefined) {
    const offset = decimal(pax['GNU.sparse.offset']);
    const length = decimal(pax['GNU.sparse.numbytes']);
    const oneBlock = decimal(pax['GNU.sparse.numblocks']) === 1 && offset !== null && length !== null;
    return { version: '0.0', name, realSize: decimal(pax['GNU.sparse.size']), map: oneBlock ? [[offset, length]] : null };
  }
  return null;
}

function pairs(numbers: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < numbers.length; i += 2) out.push([numbers[i]!, numbers[i + 1]!]);
  return out;
}

const corrupt = (label: string, why: string) => new ExhibitError('corrupt-file', `${label}: GNU sparse member: ${why}`);

/**
 * The expanded file from its condensed bytes (`condensed` holds exactly the
 * member's stored data): data segments where the map puts them, zeros
 * between and after them up to the real size. A map that is out of order,
 * reaches past the real size or does not account for every stored byte is
 * 'corrupt-file'; so is data that ends early. Holes (the real size less the
 * map's data) beyond `maxHoleBytes` fail 'limit-exceeded' as soon as the map
 * is known, before any byte is given out.
 */
export function expandSparse(condensed: Readable, sparse: SparseMember, label: string, maxHoleBytes: number): Readable {
  if (sparse.problem !== undefined) return failed(condensed, corrupt(label, sparse.problem));
  if (sparse.realSize === null) return failed(condensed, corrupt(label, 'its real size is not recorded'));
  if (sparse.version !== '1.0' && sparse.map === null) {
    return failed(
      condensed,
      new ExhibitError('unsupported-format', `${label}: GNU sparse ${sparse.version} member whose map cannot be read (its repeated records are not kept); content not reconstructed`),
    );
  }
  const realSize = sparse.realSize;
  const source = condensed[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let pending: Buffer = Buffer.alloc(0);
  let consumed = 0;
  const take = async (): Promise<Buffer | null> => {
    if (pending.length === 0) {
      const next = await source.next();
      if (next.done) return null;
      pending = next.value;
    }
    return pending;
  };
  async function* expand(): AsyncGenerator<Buffer> {
    let map = sparse.map;
    if (map === null) {
      // 1.0: the map is decimal lines at the head of the data (a count, then offset and length pairs), padded to a block.
      const numbers: number[] = [];
      let digits = '';
      let wanted = 1;
      while (numbers.length < wanted) {
        const chunk = await take();
        if (chunk === null) throw corrupt(label, 'the data ends inside its map');
        let i = 0;
        for (; i < chunk.length && numbers.length < wanted; i += 1) {
          const c = chunk[i]!;
          if (c === 0x0a) {
            const n = decimal(digits);
            if (n === null) throw corrupt(label, `unreadable number in its map ("${digits.slice(0, 24)}")`);
            numbers.push(n);
            digits = '';
            if (numbers.length === 1) {
              if (n > MAX_SPARSE_MAP_ENTRIES) throw corrupt(label, `its map declares ${n} entries (at most ${MAX_SPARSE_MAP_ENTRIES} are read)`);
              wanted = 1 + 2 * n;
            }
          } else if (c >= 0x30 && c <= 0x39 && digits.length < MAX_MAP_NUMBER_DIGITS) digits += String.fromCharCode(c);
          else throw corrupt(label, 'unexpected byte in its map');
        }
        consumed += i;
        pending = chunk.subarray(i);
      }
      map = pairs(numbers.slice(1));
      // The data starts at the next block boundary after the map.
      let padding = (BLOCK - (consumed % BLOCK)) % BLOCK;
      while (padding > 0) {
        const chunk = await take();
        if (chunk === null) throw corrupt(label, 'the data ends inside its map');
        const n = Math.min(padding, chunk.length);
        pending = chunk.subarray(n);
        padding -= n;
      }
    }
    const holes = realSize - map.reduce((sum, [, length]) => sum + length, 0);
    if (holes > maxHoleBytes) {
      throw new ExhibitError('limit-exceeded', `${label}: GNU sparse member declares ${holes} bytes of holes (real size ${realSize}), more than maxSparseHoleBytes (${maxHoleBytes})`);
    }
    let position = 0;
    for (const [offset, length] of map) {
      if (offset < position || offset + length > realSize) throw corrupt(label, `map entry ${offset}+${length} out of order or past its real size ${realSize}`);
      yield* zeros(offset - position);
      let left = length;
      while (left > 0) {
        const chunk = await take();
        if (chunk === null) throw corrupt(label, `the stored data ends before its map does (at ${offset + length - left} of ${realSize})`);
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        pending = chunk.subarray(part.length);
        left -= part.length;
        yield part;
      }
      position = offset + length;
    }
    yield* zeros(realSize - position);
    if ((await take()) !== null) throw corrupt(label, 'stored bytes left over after its map');
  }
  const out = Readable.from(expand(), { objectMode: false });
  out.on('close', () => {
    if (!condensed.destroyed) condensed.destroy();
  });
  return out;
}

function* zeros(count: number): Generator<Buffer> {
  for (let left = count; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
}

function failed(condensed: Readable, error: ExhibitError): Readable {
  condensed.destroy();
  const out = new Readable({ read() {} });
  out.destroy(error);
  return out;
}
