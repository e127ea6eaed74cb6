import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES, type BlobStore } from '@exhibit/core';
import { createDiskPool } from '../src/disk/disk-image.pool.js';
import { openDiskImageReader } from '../src/disk/disk-image.reader.js';
import { hasTool, run } from '../src/disk/test-support/disk-image.builder.js';
import { addArchive, createHarness, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * The disk parser threads' deadline through the unpack stage (Azurite +
 * PGlite): a FAT16 volume whose fixed root directory holds 32,768 entries (the most mkfs.fat makes) is
 * real work for the FAT reader in one step (the whole root area is parsed
 * before the first entry is listed). With the step budget shrunk to 1 ms the
 * budget runs out in that step, every run: the thread is stopped, the volume
 * and the image fail with 'parse-timeout', and the event loop kept turning
 * all along (the reader never ran on it).
 */

const ROOT_ENTRIES = 32_768;
const missing = ['mkfs.fat'].filter((t) => !hasTool(t));

/** A FAT16 volume whose root directory is full of empty files F0000000.TXT … (written straight into the root area). */
function crowdedFat16(dir: string): Buffer {
  const file = path.join(dir, 'crowded.img');
  run('mkfs.fat', ['-C', '-F', '16', '-r', String(ROOT_ENTRIES), '-n', 'CROWDED', '-i', '15150002', file, '40000']);
  const image = Buffer.from(readFileSync(file));
  const sectorBytes = image.readUInt16LE(11);
  const reserved = image.readUInt16LE(14);
  const fats = image[16]!;
  const sectorsPerFat = image.readUInt16LE(22);
  const rootEntries = image.readUInt16LE(17);
  expect(rootEntries).toBe(ROOT_ENTRIES);
  const root = (reserved + fats * sectorsPerFat) * sectorBytes;
  for (let i = 0; i < rootEntries; i += 1) {
    const at = root + i * 32;
    image.write(`F${String(i).padStart(7, '0')}TXT`, at, 'latin1');
    image[at + 11] = 0x20;
  }
  return image;
}

describe.skipIf(missing.length > 0)('unpack stage: disk parser deadline', () => {
  let h: Harness;
  let dir: string;
  let crowded: Buffer;

  beforeAll(async () => {
    h = await createHarness(inject('storageConnectionString'));
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-disk-deadline-'));
    crowded = crowdedFat16(dir);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function unpack(fileName: string, data: Buffer, limits: Partial<Record<keyof Harness['deps']['limits'], number>> = {}) {
    const archive = await addArchive(h, fileName, data, { mime: DISK_IMAGE_MIMES.raw });
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 1);
    try {
      const outcome = await unpackStage({ ...h.deps, limits: { ...h.deps.limits, ...limits } as Harness['deps']['limits'] }, archive, h.ctx);
      const members = await h.index.listChildren(archive.fileId);
      const status = await h.index.evidenceStatus(archive.caseId, archive.evidenceId);
      const stop = status?.failures.find((f) => f.fileId === archive.fileId && f.stage === 'unpack');
      return { outcome, members, stop, ticks, image: await h.index.getDiskImage(archive.fileId) };
    } finally {
      clearInterval(ticker);
    }
  }

  it('regression: fat16-root-32768-entries — the step budget runs out in the reader: the image fails with parse-timeout, the same reason every run, and the event loop kept turning', async () => {
    const first = await unpack('crowded-1.img', crowded, { diskParseStepMs: 1 });
    expect(first.outcome).toMatchObject({ status: 'failed', code: 'parse-timeout' });
    expect(first.image?.volumes.map((v) => [v.index, v.problem?.code ?? null])).toEqual([[0, 'parse-timeout']]);
    // One volume: no "other volumes" (S2), and the stop is a stop.
    expect(first.stop?.detail).toMatch(/^volume 0: disk image reader \(volume 0\) did not finish within its 1 ms budget and was stopped \(0 members recorded before the stop; the volume was not read past it\)$/);
    expect(first.members).toHaveLength(0);
    // The reader held its own thread, never this one: timers fired while it worked.
    expect(first.ticks).toBeGreaterThan(0);

    const second = await unpack('crowded-2.img', crowded, { diskParseStepMs: 1 });
    expect(second.outcome).toEqual(first.outcome);
    expect(second.stop?.detail).toBe(first.stop?.detail);
  }, 120_000);

  it('with the step budget of LIMITS the same volume is listed in full: the budget, not the image, stopped it', async () => {
    // Straight through the reader (the stage would store 32,768 empty members, which takes minutes).
    const blobs = { readRange: async (_blob: unknown, offset: number, length: number) => crowded.subarray(offset, offset + length) } as unknown as BlobStore;
    const reader = await openDiskImageReader(blobs, { container: 'evidence', name: 'crowded.img' }, crowded.length, { size: crowded.length, maxEntryNameBytes: 1024 });
    const names: string[] = [];
    for await (const entry of reader.entries()) names.push(entry.name);
    expect(names).toHaveLength(ROOT_ENTRIES);
    expect(names.slice(0, 2)).toEqual(['F0000000.TXT', 'F0000001.TXT']);
    expect(reader.volumes().map((v) => [v.index, v.fileSystem, v.problem, v.entries])).toEqual([[0, 'fat16', null, ROOT_ENTRIES]]);
  }, 120_000);

  it('a thread that dies after handing on entries fails the volume with parse-crashed at once (a fresh start would hand them on again)', async () => {
    const blobs = { readRange: async (_blob: unknown, offset: number, length: number) => crowded.subarray(offset, offset + length) } as unknown as BlobStore;
    const pool = createDiskPool(1);
    try {
      const reader = await openDiskImageReader(blobs, { container: 'evidence', name: 'crowded.img' }, crowded.length, { size: crowded.length, maxEntryNameBytes: 1024, pool });
      const names: string[] = [];
      for await (const entry of reader.entries()) {
        names.push(entry.name);
        // Plays a crash of the thread (what its heap limit does to a reader that grows without bound).
        if (names.length === 5) await Promise.all(pool.busyWorkers().map((w) => w.terminate()));
      }
      expect(names).toHaveLength(5);
      const [volume] = reader.volumes();
      expect(volume).toMatchObject({ index: 0, entries: 5, problem: { code: 'parse-crashed' } });
      expect(volume!.problem!.message).toBe('disk image reader (volume 0) thread stopped unexpectedly on this file after handing on part of its results');
      // Not run again: no second thread was started for it.
      expect(pool.started).toBe(1);
    } finally {
      await pool.close();
    }
  }, 120_000);

  it('a listing left early (the stage stops at a limit) ends its thread\'s task: the thread is free for the next image', async () => {
    const blobs = { readRange: async (_blob: unknown, offset: number, length: number) => crowded.subarray(offset, offset + length) } as unknown as BlobStore;
    const pool = createDiskPool(1);
    try {
      const open = () => openDiskImageReader(blobs, { container: 'evidence', name: 'crowded.img' }, crowded.length, { size: crowded.length, maxEntryNameBytes: 1024, pool });
      const reader = await open();
      const names: string[] = [];
      for await (const entry of reader.entries()) {
        names.push(entry.name);
        if (names.length === 3) break;
      }
      expect(names).toEqual(['F0000000.TXT', 'F0000001.TXT', 'F0000002.TXT']);
      expect(pool.busyWorkers()).toHaveLength(0);
      // One thread: had the task not ended, this would wait for it for ever.
      expect((await open()).image.volumes).toHaveLength(1);
      expect(pool.started).toBe(1);
    } finally {
      await pool.close();
    }
  }, 120_000);
});
