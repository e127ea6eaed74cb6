import path from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import { ExhibitError, type Hashes } from '@exhibit/core';

/**
 * Acquisition hashes of several files, read from the lists imaging tools and
 * coreutils write (`exhibit upload --hash-file`): GNU `md5sum`/`sha1sum`/
 * `sha256sum` output (`<hex>  <name>`, `<hex> *<name>`, the algorithm told by
 * the length of the hex) or BSD/`shasum --tag` output (`MD5 (<name>) = <hex>`).
 * Names are matched by base name (lists often say `./card.E01`). Blank lines
 * and `#` comments are skipped; any other line that is not one of these forms
 * is refused with its line number, and so is a name given two different
 * hashes of one algorithm. The list is the user's file, read whole: it is
 * bounded by MAX_HASH_LIST_BYTES.
 */
export const MAX_HASH_LIST_BYTES = 4 * 1024 * 1024;

const LENGTHS: Record<number, keyof Hashes> = { 32: 'md5', 40: 'sha1', 64: 'sha256' };
const BSD_NAMES: Record<string, keyof Hashes> = { MD5: 'md5', SHA1: 'sha1', 'SHA-1': 'sha1', SHA256: 'sha256', 'SHA-256': 'sha256' };

export type HashList = Map<string, Partial<Hashes>>;

export function parseHashList(text: string, source: string, into: HashList = new Map()): HashList {
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} line ${i + 1}`;
    let algorithm: keyof Hashes | undefined;
    let hex: string;
    let name: string;
    const bsd = /^([A-Za-z0-9-]+) ?\((.+)\) ?= ?([0-9a-fA-F]+)$/.exec(line);
    const gnu = /^(\\?)([0-9a-fA-F]+) [ *](.+)$/.exec(line);
    if (bsd) {
      algorithm = BSD_NAMES[bsd[1]!.toUpperCase()];
      if (!algorithm) throw new ExhibitError('invalid-argument', `${where}: ${JSON.stringify(bsd[1]).slice(0, 40)} is not MD5, SHA1 or SHA256`);
      [name, hex] = [bsd[2]!, bsd[3]!];
    } else if (gnu) {
      hex = gnu[2]!;
      // md5sum escapes a name holding a backslash or newline and marks the line with a leading backslash.
      name = gnu[1] ? gnu[3]!.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\')) : gnu[3]!;
      algorithm = LENGTHS[hex.length];
    } else {
      throw new ExhibitError('invalid-argument', `${where}: not a hash line ("<hex>  <name>" as md5sum writes it, or "MD5 (<name>) = <hex>")`);
    }
    if (!algorithm || LENGTHS[hex.length] !== algorithm) throw new ExhibitError('invalid-argument', `${where}: ${hex.length} hex digits is no MD5 (32), SHA-1 (40) or SHA-256 (64)`);
    const base = path.basename(name.replace(/\\/g, '/'));
    const hashes = into.get(base) ?? {};
    const value = hex.toLowerCase();
    if (hashes[algorithm] !== undefined && hashes[algorithm] !== value) {
      throw new ExhibitError('invalid-argument', `${where}: ${JSON.stringify(base).slice(0, 100)} is given two different ${algorithm} hashes`);
    }
    hashes[algorithm] = value;
    into.set(base, hashes);
  });
  return into;
}

/** Reads and merges the lists given with --hash-file. */
export async function readHashLists(files: readonly string[]): Promise<HashList> {
  const list: HashList = new Map();
  for (const file of files) {
    const info = await stat(file).catch((err: unknown) => {
      throw new ExhibitError('invalid-argument', `--hash-file ${file}: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (!info.isFile()) throw new ExhibitError('invalid-argument', `--hash-file ${file} is not a file`);
    if (info.size > MAX_HASH_LIST_BYTES) throw new ExhibitError('invalid-argument', `--hash-file ${file} holds ${info.size} bytes; a hash list holds at most ${MAX_HASH_LIST_BYTES}`);
    parseHashList(await readFile(file, 'utf8'), file, list);
  }
  return list;
}
