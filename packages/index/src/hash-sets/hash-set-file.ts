import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { detectHashSetFormat } from './format-detect.js';
import { HASH_SET_LIMITS } from './hash-set-limits.js';
import type { HashSetReader } from './hash-set.types.js';
import { nsrlRdsReader } from './nsrl-rds.reader.js';
import { checksumListReader, hashdeepReader, hashkeeperReader, hashListReader, icseCsvReader, pdqListReader } from './text-formats.reader.js';
import { vicsJsonReader } from './vics-json.reader.js';

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Opens a hash-set file with the reader its first bytes call for. `format:
 * 'pdq-list'` reads it as a PDQ list whatever it looks like: a list of bare
 * 64-hex lines is a SHA-256 list by its content, and only the examiner can say
 * it holds PDQ hashes (its rows are still checked as PDQ rows).
 */
export async function openHashSetFile(path: string, options: { format?: 'pdq-list' } = {}): Promise<HashSetReader> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HASH_SET_LIMITS.detectBytes);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const format = options.format ?? detectHashSetFormat(head);
  const stream = () => createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  switch (format) {
    case 'nsrl-rds-v3':
      return nsrlRdsReader(path);
    case 'vics-json':
      return vicsJsonReader(stream, head.toString('utf8'));
    case 'hashdeep':
      return hashdeepReader(stream);
    case 'hashkeeper':
      return hashkeeperReader(stream);
    case 'icse-csv':
      return icseCsvReader(stream);
    case 'checksum-list':
      return checksumListReader(stream);
    case 'hash-list':
      return hashListReader(stream);
    case 'pdq-list':
      return pdqListReader(stream);
  }
}
