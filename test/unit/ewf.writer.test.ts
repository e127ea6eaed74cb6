/**
 * The sample generator's E01 writer (samples/lib/ewf.writer.ts), checked by
 * tools that share no code with it: libewf's ewfverify and ewfinfo, and The
 * Sleuth Kit reading the E01 through libewf (`fls -i ewf`, `icat -i ewf`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFatCard } from '../../samples/lib/disk.builder.js';
import { writeEwf, type EwfHeaderValues } from '../../samples/lib/ewf.writer.js';

const TOOLS = ['ewfverify', 'ewfinfo', 'fls', 'icat', 'mkfs.fat', 'mcopy', 'mdel', 'mmd', 'mlabel'];
const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (missing.length > 0) console.warn(`ewf.writer: skipped, missing ${missing.join(', ')} (Debian ewf-tools, sleuthkit, dosfstools, mtools)`);

const run = (command: string, args: string[]) => execFileSync('env', ['TZ=UTC', command, ...args], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
const hex = (algorithm: string, b: Uint8Array) => createHash(algorithm).update(b).digest('hex');

const VALUES: EwfHeaderValues = {
  caseNumber: 'CASE-7',
  evidenceNumber: 'EV-3',
  description: 'A card, with spaces',
  examiner: 'Dana Examiner',
  notes: 'notes: 1 2 3',
  acquiredAt: new Date('2024-02-29T23:59:58Z'),
  mediaType: 'removable',
  software: { version: 'exhibit-samples 1', os: 'none (generated)' },
};

/** Incompressible bytes (so those chunks are stored with their Adler-32, not deflated). */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe.skipIf(missing.length > 0)('E01 writer for the samples', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-ewf-writer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes an E01 that ewfverify verifies and ewfinfo reads back: header, media, stored hashes', () => {
    // 100.5 chunks: compressible zeros, stored noise, and a short last chunk.
    const media = Buffer.concat([Buffer.alloc(40 * 32768), noise(60 * 32768 + 16 * 512, 7)]);
    const file = path.join(dir, 'mixed.E01');
    writeFileSync(file, writeEwf(media, VALUES));
    const verify = run('ewfverify', ['-q', '-d', 'sha1', file]).toString('utf8');
    expect(verify).toContain('ewfverify: SUCCESS');
    expect(verify).toMatch(new RegExp(`MD5 hash stored in file:\\s+${hex('md5', media)}`));
    expect(verify).toMatch(new RegExp(`MD5 hash calculated over data:\\s+${hex('md5', media)}`));
    expect(verify).toMatch(new RegExp(`SHA1 hash stored in file:\\s+${hex('sha1', media)}`));
    expect(verify).toMatch(new RegExp(`SHA1 hash calculated over data:\\s+${hex('sha1', media)}`));
    const info = run('ewfinfo', [file]).toString('utf8');
    const field = (name: string) => new RegExp(`${name}:\\s+(.*)`).exec(info)?.[1]?.trim();
    expect({
      case: field('Case number'),
      evidence: field('Evidence number'),
      description: field('Description'),
      examiner: field('Examiner name'),
      notes: field('Notes'),
      acquired: field('Acquisition date'),
      software: field('Software version used'),
      format: field('File format'),
      mediaType: field('Media type'),
      sectors: field('Number of sectors'),
      md5: field('MD5'),
      sha1: field('SHA1'),
    }).toEqual({
      case: 'CASE-7',
      evidence: 'EV-3',
      description: 'A card, with spaces',
      examiner: 'Dana Examiner',
      notes: 'notes: 1 2 3',
      acquired: 'Thu Feb 29 23:59:58 2024',
      software: 'exhibit-samples 1',
      format: 'EnCase 6',
      mediaType: 'removable disk',
      sectors: String(media.length / 512),
      md5: hex('md5', media),
      sha1: hex('sha1', media),
    });
  });

  it('gives the same bytes for the same media and values, and a different set identifier for other media', () => {
    const a = Buffer.alloc(64 * 512, 1);
    expect(writeEwf(a, VALUES).equals(writeEwf(Buffer.from(a), { ...VALUES }))).toBe(true);
    const other = path.join(dir, 'other.E01');
    writeFileSync(other, writeEwf(Buffer.alloc(64 * 512, 2), VALUES));
    const setId = (file: string) => /Set identifier:\s+(\S+)/.exec(run('ewfinfo', [file]).toString('utf8'))?.[1];
    const first = path.join(dir, 'first.E01');
    writeFileSync(first, writeEwf(a, VALUES));
    expect(setId(first)).toMatch(/^[0-9a-f-]{36}$/);
    expect(setId(first)).not.toBe(setId(other));
  });

  it('is read through by The Sleuth Kit exactly as the raw card: listing and every file, the deleted one included', async () => {
    const files = [
      { path: 'DCIM/100TEST/A0000001.JPG', mtime: '2024-01-02T03:04:06', bytes: noise(70_000, 1) },
      { path: 'DCIM/100TEST/A0000002.JPG', mtime: '2024-01-02T03:05:08', bytes: noise(33_000, 2) },
      { path: 'DCIM/100TEST/A0000003.JPG', mtime: '2024-01-02T03:06:10', bytes: noise(5_000, 3) },
    ];
    const media = await buildFatCard(files, { label: 'TESTCARD', volumeId: '0badcafe', sizeKiB: 34_000, directoryMtime: '2024-01-02T03:00:00', deleted: [files[1]!.path] });
    const raw = path.join(dir, 'card.img');
    const e01 = path.join(dir, 'card.E01');
    writeFileSync(raw, media);
    writeFileSync(e01, writeEwf(media, VALUES));
    const listing = (image: string, type: string) => run('fls', ['-r', '-p', '-i', type, image]).toString('utf8');
    expect(listing(e01, 'ewf')).toBe(listing(raw, 'raw'));
    expect(listing(e01, 'ewf')).toMatch(/r\/r \* \d+:\tDCIM\/100TEST\/_0000002\.JPG/);
    for (const line of listing(raw, 'raw').split('\n').filter((l) => /^r\/r .*A0000|_0000/.test(l))) {
      const inode = /(\d+):\t/.exec(line)![1]!;
      expect(hex('md5', run('icat', ['-i', 'ewf', e01, inode])), line).toBe(hex('md5', run('icat', ['-i', 'raw', raw, inode])));
    }
    expect(hex('md5', run('icat', ['-i', 'ewf', e01, /(\d+):\tDCIM\/100TEST\/_0000002/.exec(listing(raw, 'raw'))![1]!]))).toBe(hex('md5', files[1]!.bytes));
  }, 60_000);

  it('refuses media that is not a whole number of sectors, and header text EWF cannot hold', () => {
    expect(() => writeEwf(Buffer.alloc(1000), VALUES)).toThrow(/whole number of sectors/);
    expect(() => writeEwf(Buffer.alloc(512), { ...VALUES, notes: 'a\tb' })).toThrow(/tabs or line breaks/);
  });
});
