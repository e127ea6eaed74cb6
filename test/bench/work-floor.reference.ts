import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { createMediaTools } from '@exhibit/media';
import { MultiHasher } from '@exhibit/pipeline';
import { BufferSource } from '../../packages/media/src/test-support/buffer.source.js';
import type { CorpusMember } from './corpus.builder.js';
import { workFloorCpuMs, type WorkCosts } from './work-floor.summary.js';

/**
 * The work no implementation of the issue can skip, timed on this machine in
 * the same run: MD5 + SHA-1 + SHA-256 of every byte twice (the uploaded
 * archive or disk image, then each file in it as it is extracted) and
 * decoding every photo for its thumbnail with the product's own thumbnailer
 * (work-floor.summary.ts does the arithmetic; `npm run bench` and `npm run
 * bench:disk` both use it). Storage, queues, index,
 * metadata and video are left out, so the ceiling it gives is an upper bound
 * no pipeline on this machine can pass: it shows how far a target is from
 * what the hardware allows.
 */
export interface WorkFloor extends WorkCosts {
  /** (hash archive + hash members + thumbnails) ÷ members. */
  cpuMsPerFile: number;
  cores: number;
  /** cores × 1000 ÷ cpuMsPerFile. */
  ceilingFilesPerSec: number;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** A file of the sample: its name (for the thumbnailer) and how to read its bytes. */
export interface SampleFile {
  name: string;
  read: () => Promise<Buffer>;
}

/**
 * Times, in this process, hashing the `hash` files (read first, so only
 * hashing is timed) and thumbnailing the `photos` with the product's own
 * thumbnailer.
 */
export async function measureWorkCosts(sample: { hash: readonly SampleFile[]; photos: readonly SampleFile[] }): Promise<WorkCosts> {
  let hashedBytes = 0;
  let hashMs = 0;
  for (const f of sample.hash) {
    const bytes = await f.read();
    const started = process.cpuUsage();
    const hasher = new MultiHasher();
    for (let i = 0; i < bytes.length; i += 1 << 20) hasher.update(bytes.subarray(i, i + (1 << 20)));
    hasher.digest();
    hashMs += cpuMs(started);
    hashedBytes += bytes.length;
  }
  if (hashedBytes === 0) throw new Error('work floor: the hash sample has no bytes');

  const media = createMediaTools({});
  let thumbMs = 0;
  for (const p of sample.photos) {
    const source = new BufferSource(await p.read(), p.name);
    const started = process.cpuUsage();
    await media.thumbnailer.image(source, { mime: 'image/jpeg' });
    thumbMs += cpuMs(started);
  }
  return { hashCpuMsPerMB: hashMs / (hashedBytes / 1e6), thumbnailCpuMsPerPhoto: sample.photos.length ? thumbMs / sample.photos.length : 0, photosSampled: sample.photos.length };
}

export async function measureWorkFloor(
  members: CorpusMember[],
  archiveBytes: number,
  options: { photoSample: number },
): Promise<WorkFloor> {
  const sampleOf = (m: CorpusMember): SampleFile => ({ name: m.name, read: () => readFile(m.file) });
  const costs = await measureWorkCosts({
    hash: members.slice(0, Math.max(1, options.photoSample)).map(sampleOf),
    photos: members.filter((m) => m.kind === 'photo').slice(0, options.photoSample).map(sampleOf),
  });
  const memberBytes = members.reduce((s, m) => s + m.bytes, 0);
  const photoCount = members.filter((m) => m.kind === 'photo').length;
  const cpuMsPerFile = workFloorCpuMs(costs, { hashedBytes: archiveBytes + memberBytes, photos: photoCount }) / members.length;
  const cores = os.availableParallelism();
  return { ...costs, cpuMsPerFile, cores, ceilingFilesPerSec: (cores * 1000) / cpuMsPerFile };
}
