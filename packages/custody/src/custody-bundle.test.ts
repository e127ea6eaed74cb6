import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AppendLog } from '@exhibit/core';
import { exportCustodyBundle, readCustodyBundle } from './custody-bundle.js';
import { createLocalSigner } from './signer.local.js';
import { publicKeyOf } from './signer.js';

/** Only what export reads: list and read. */
function memoryLog(blobs: Record<string, Buffer>): AppendLog {
  const no = async (): Promise<never> => {
    throw new Error('not used');
  };
  return {
    container: 'custody',
    head: no,
    create: no,
    append: no,
    getDocument: no,
    putDocument: no,
    read: async (name) => Readable.from([blobs[name]!.subarray(0, 1000), blobs[name]!.subarray(1000)]),
    async *list(prefix) {
      for (const name of Object.keys(blobs).sort()) if (name.startsWith(prefix)) yield { name, length: blobs[name]!.length, etag: '"x"' };
    },
  };
}

describe('custody bundle file', () => {
  it('carries parts byte for byte, larger than one chunk, in lines of bounded length, and skips what is not a segment', async () => {
    const key = publicKeyOf(await createLocalSigner(path.join(await mkdtemp(path.join(os.tmpdir(), 'exhibit-bundle-')), 'k')));
    const big = randomBytes(2 * 1024 * 1024 + 17);
    const small = Buffer.from('{"not":"an entry"}\n');
    const checkpoints = randomBytes(900 * 1024);
    const lines: string[] = [];
    await exportCustodyBundle({
      log: memoryLog({ 'C1/E1/000000.jsonl': big, 'C1/E1/000001.jsonl': small, 'C1/keys.json': Buffer.from('{}'), 'C1/E1/notes.txt': Buffer.from('x') }),
      checkpoints: { location: 'memory', append: async () => undefined, read: async () => checkpoints },
      trustedKeys: [key],
      caseId: 'C1',
      write: async (l) => void lines.push(l),
    });
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(1.1 * 1024 * 1024);
    const bundle = readCustodyBundle(Buffer.from(lines.join('')));
    expect([...bundle.segments.keys()]).toEqual(['C1/E1/000000.jsonl', 'C1/E1/000001.jsonl']);
    expect(bundle.segments.get('C1/E1/000000.jsonl')!.equals(big)).toBe(true);
    expect(bundle.segments.get('C1/E1/000001.jsonl')!.equals(small)).toBe(true);
    expect(bundle.checkpoints!.equals(checkpoints)).toBe(true);
    expect(bundle.keys).toEqual([key]);
  });

  it('refuses a chunk the manifest does not list, and a bundle of nothing', async () => {
    const key = publicKeyOf(await createLocalSigner(path.join(await mkdtemp(path.join(os.tmpdir(), 'exhibit-bundle-')), 'k')));
    const lines: string[] = [];
    await exportCustodyBundle({ log: memoryLog({ 'C2/E1/000000.jsonl': Buffer.from('a\n') }), checkpoints: null, trustedKeys: [key], caseId: 'C2', write: async (l) => void lines.push(l) });
    const extra = [...lines.slice(0, -1), JSON.stringify({ type: 'chunk', kind: 'segment', name: 'C2/E9/000000.jsonl', data: 'YQo=' }) + '\n', lines.at(-1)!];
    expect(() => readCustodyBundle(Buffer.from(extra.join('')))).toThrow(/C2\/E9\/000000.jsonl is in the bundle but not in its manifest/);
    await expect(exportCustodyBundle({ log: memoryLog({}), checkpoints: null, trustedKeys: [key], caseId: 'C3', write: async () => undefined })).rejects.toMatchObject({ code: 'not-found' });
  });
});
