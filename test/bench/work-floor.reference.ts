import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { createMediaTools } from '@exhibit/media';
import { MultiHasher } from '@exhibit/pipeline';
import { BufferSource } from '../../packages/media/src/test-support/buffer.source.js';
import type { CorpusMember } from './corpus.builder.js';

/**
 * The work no implementation of the issue can skip, timed on this machine in
 * the same run: MD5 + SHA-1 + SHA-256 of every byte twice (the uploaded
 * archive, then each member as it is extracted) and decoding every photo for
 * its thumbnail with the product's own thumbnailer. Storage, queues, index,
 * metadata and video are left out, so the ceiling it gives is an upper bound
 * no pipeline on this machine can pass: it shows how far a target is from
 * what the hardware allows.
 */
export interface WorkFloor {
  /** CPU ms to hash one MB (10^6 bytes) with all three algorithms. */
  hashCpuMsPerMB: number;
  /** Mean CPU ms (all threads) for one photo's thumbnail; photos sampled. */
  thumbnailCpuMsPerPhoto: number;
  photosSampled: number;
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

export async function measureWorkFloor(
  members: CorpusMember[],
  archiveBytes: number,
  options: { photoSample: number },
): Promise<WorkFloor> {
  // Hashing: a sample of members, read first so only hashing is timed.
  let hashedBytes = 0;
  let hashMs = 0;
  for (const m of members.slice(0, Math.max(1, options.photoSample))) {
    const bytes = await readFile(m.file);
    const started = process.cpuUsage();
    const hasher = new MultiHasher();
    for (let i = 0; i < bytes.length; i += 1 << 20) hasher.update(bytes.subarray(i, i + (1 << 20)));
    hasher.digest();
    hashMs += cpuMs(started);
    hashedBytes += bytes.length;
  }
  const hashCpuMsPerMB = hashMs / (hashedBytes / 1e6);

  const media = createMediaTools({});
  const photos = members.filter((m) => m.kind === 'photo').slice(0, options.photoSample);
  let thumbMs = 0;
  for (const p of photos) {
    const source = new BufferSource(await readFile(p.file), p.name);
    const started = process.cpuUsage();
    await media.thumbnailer.image(source, { mime: 'image/jpeg' });
    thumbMs += cpuMs(started);
  }
  const thumbnailCpuMsPerPhoto = photos.length ? thumbMs / photos.length : 0;

  const memberBytes = members.reduce((s, m) => s + m.bytes, 0);
  const photoCount = members.filter((m) => m.kind === 'photo').length;
  const totalMs = hashCpuMsPerMB * ((archiveBytes + memberBytes) / 1e6) + thumbnailCpuMsPerPhoto * photoCount;
  const cpuMsPerFile = totalMs / members.length;
  const cores = os.availableParallelism();
  return { hashCpuMsPerMB, thumbnailCpuMsPerPhoto, photosSampled: photos.length, cpuMsPerFile, cores, ceilingFilesPerSec: (cores * 1000) / cpuMsPerFile };
}
