/**
 * PDQ cost per camera photo relative to its thumbnail (issue 14; figures in
 * docs/benchmarks.md and docs/pdq.md). Not a test: prints figures, asserts
 * nothing about time.
 *
 *   npm run bench:pdq -- [--megapixels 12] [--photos 3] [--rounds 5]
 *
 * The analyse stage makes an image's thumbnail (imageThumbnail: decode with
 * shrink-on-load, resize to 320 px, encode) and then decodes the same bytes a
 * second time, full size and the reference's way, for PDQ (pdqFromImage:
 * decode, then the hasher's 512 px squash and DCT). Both are measured here on
 * the same camera-like JPEGs (q92, 12 MP by default), alternating which runs
 * first, as wall-clock time and as process CPU time (sharp works on libuv's
 * threads, so CPU time counts every thread). The PDQ decode and the hash
 * itself are also timed apart.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { LIMITS } from '@exhibit/core';
import { MEDIA_LIMITS, pdqFromPixels, pdqPixelsFromImage } from '@exhibit/media';
import { imageThumbnail } from '../../packages/media/src/thumbnail/image.thumbnail.js';
import { frameFor, paintCameraPhoto } from './camera-photo.painter.js';

const { values } = parseArgs({
  options: {
    megapixels: { type: 'string', default: '12' },
    photos: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
  },
});
const megapixels = Number(values.megapixels);
const photoCount = Number(values.photos);
const rounds = Number(values.rounds);

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function measure<T>(run: () => Promise<T>): Promise<{ sample: Sample; result: T }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await run();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { sample: { wallMs, cpuMs: (used.user + used.system) / 1000 }, result };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const { width, height } = frameFor(megapixels);
const photos: Buffer[] = [];
for (let i = 0; i < photoCount; i++) {
  const painted = paintCameraPhoto(9000 + i, width, height);
  photos.push(await sharp(painted.data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer());
}
console.log(`${photoCount} camera-like JPEGs ${width}x${height} (q92, ${photos.map((p) => (p.length / 1e6).toFixed(1)).join(' / ')} MB), ${rounds} rounds each`);

const settings = { edgePx: LIMITS.thumbnailEdgePx, quality: MEDIA_LIMITS.thumbnailJpegQuality, maxPixels: LIMITS.maxImagePixels };
const thumbnail: Sample[] = [];
const pdq: Sample[] = [];
const pdqDecode: Sample[] = [];
const pdqHash: Sample[] = [];
const runThumbnail = async (bytes: Buffer) => thumbnail.push((await measure(() => imageThumbnail(bytes, settings, 'image/jpeg'))).sample);
const runPdq = async (bytes: Buffer) => {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const decoded = await measure(() => pdqPixelsFromImage(bytes, { mime: 'image/jpeg' }));
  const hashed = await measure(async () => pdqFromPixels(decoded.result));
  const used = process.cpuUsage(cpu);
  pdqDecode.push(decoded.sample);
  pdqHash.push(hashed.sample);
  pdq.push({ wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 });
};

// One untimed pass: the parser-thread pool, sharp and the code paths warm up.
await runThumbnail(photos[0]!);
await runPdq(photos[0]!);
thumbnail.length = pdq.length = pdqDecode.length = pdqHash.length = 0;

for (let round = 0; round < rounds; round++) {
  for (const bytes of photos) {
    if (round % 2 === 0) {
      await runThumbnail(bytes);
      await runPdq(bytes);
    } else {
      await runPdq(bytes);
      await runThumbnail(bytes);
    }
  }
}

const row = (name: string, xs: Sample[]) =>
  `${name.padEnd(34)} ${median(xs.map((x) => x.wallMs)).toFixed(0).padStart(7)} ms ${median(xs.map((x) => x.cpuMs)).toFixed(0).padStart(9)} ms`;
console.log(`${'median per photo'.padEnd(34)} ${'wall'.padStart(10)} ${'CPU'.padStart(12)}`);
console.log(row('thumbnail (decode, 320 px, encode)', thumbnail));
console.log(row('PDQ (decode + hash)', pdq));
console.log(row('  PDQ full-size decode', pdqDecode));
console.log(row('  PDQ hash (512 px squash, DCT)', pdqHash));
const ratio = (pick: (x: Sample) => number) => (median(pdq.map(pick)) / median(thumbnail.map(pick))).toFixed(2);
console.log(`PDQ / thumbnail: ${ratio((x) => x.wallMs)}x wall, ${ratio((x) => x.cpuMs)}x CPU`);
// Last, on a line of its own, in the words: CPU is the figure (wall time on a shared machine is mostly waiting).
console.log(
  `PDQ cost per ${megapixels}-MP photo relative to its thumbnail decode: ${ratio((x) => x.cpuMs)}x CPU (${ratio((x) => x.wallMs)}x wall; ` +
    `${photoCount} photos x ${rounds} rounds, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`,
);
process.exit(0);
