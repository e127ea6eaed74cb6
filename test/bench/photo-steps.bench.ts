/**
 * CPU per photo of each analyse step the photos of `npm run bench:disk` go
 * through (identify, exifr metadata, the image thumbnail and its parts: the
 * trailing-data scan, decode/resize/encode, the EXIF preview hint, PDQ's
 * decode and hash), called directly on photos painted as that bench paints
 * them (its 4 GiB / 20,000-file plan: ~776x584, ~150 KB). Not a test: prints
 * figures, asserts nothing about time. Each step runs over all the photos in
 * turn; its CPU is the process's (every thread) and is split by thread from
 * /proc/self/task: the JavaScript thread ("main"), libvips' workers ("vips"),
 * and the rest ("node": sharp's libuv pool, the parser threads, V8's helpers).
 * On a loaded machine compare runs made together, before and after a change.
 *
 *   npm run bench:photo-steps -- [--photos 200] [--rounds 2] [--steps thumbnail,pdq]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LIMITS } from '@exhibit/core';
import { FileTypeIdentifier } from '../../packages/media/src/identify/file-type.identifier.js';
import { MediaMetadataExtractor } from '../../packages/media/src/metadata/media-metadata.extractor.js';
import { MediaThumbnailer } from '../../packages/media/src/thumbnail/media.thumbnailer.js';
import { imageThumbnail } from '../../packages/media/src/thumbnail/image.thumbnail.js';
import { pdqPixelsFromImage } from '../../packages/media/src/pdq/pdq.pixels.js';
import { pdqFromPixels } from '../../packages/media/src/pdq/pdq.hasher.js';
import { compareEmbeddedPreview } from '../../packages/media/src/preview/embedded-preview.compare.js';
import { trailingDataSandboxed } from '../../packages/media/src/sandbox/parse.pool.js';
import { MediaToolResolver } from '../../packages/media/src/tools/ffmpeg-path.js';
import { MEDIA_LIMITS } from '../../packages/media/src/media-limits.js';
import { BufferSource } from '../../packages/media/src/test-support/buffer.source.js';
import { withExifSegment } from '../../packages/media/src/test-support/exif.builder.js';
import { encodeJpeg } from '../../samples/lib/photo.encoder.js';
import { frameFor, paintCameraPhoto } from './camera-photo.painter.js';
import { photoExif } from './disk-corpus.builder.js';
import { planDiskCorpus } from './disk-corpus.plan.js';

const { values } = parseArgs({ options: { photos: { type: 'string', default: '200' }, rounds: { type: 'string', default: '2' }, steps: { type: 'string', default: '' } } });
const N = Number(values.photos);
const ROUNDS = Number(values.rounds);

const TICK_MS = 10;
function threadTicks(): Map<string, { comm: string; ticks: number }> {
  const out = new Map<string, { comm: string; ticks: number }>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      out.set(tid, { comm, ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}
function groupOf(tid: string, comm: string): string {
  if (tid === String(process.pid)) return 'main';
  if (/vips/i.test(comm)) return 'vips';
  return comm;
}
function diff(a: ReturnType<typeof threadTicks>, b: ReturnType<typeof threadTicks>): Record<string, number> {
  const g: Record<string, number> = {};
  for (const [tid, v] of b) {
    const before = a.get(tid)?.ticks ?? 0;
    const k = groupOf(tid, v.comm);
    g[k] = (g[k] ?? 0) + (v.ticks - before) * TICK_MS;
  }
  return g;
}

const plan = planDiskCorpus({ imageBytes: 4 * 1024 ** 3, files: 20000 });
const trialFrame = frameFor(plan.photoMegapixels);
const trial = await encodeJpeg(paintCameraPhoto(999, trialFrame.width, trialFrame.height), { quality: 92 });
const frame = frameFor(plan.photoMegapixels * Math.min(1, (0.95 * plan.photoTargetBytes) / trial.length));
const pool: Buffer[] = [];
for (let i = 0; i < 16; i++) pool.push(await encodeJpeg(paintCameraPhoto(1000 + i, frame.width, frame.height), { quality: 92 }));
const photos = Array.from({ length: N }, (_, i) => withExifSegment(pool[i % pool.length]!, photoExif(i)));
console.log(`${N} photos ${frame.width}x${frame.height}, ~${(photos.reduce((s, p) => s + p.length, 0) / N / 1e3).toFixed(0)} KB, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);

const resolver = new MediaToolResolver({} as never);
const identifier = new FileTypeIdentifier();
const metadata = new MediaMetadataExtractor(resolver);
const thumbnailer = new MediaThumbnailer(resolver);
const settings = { edgePx: LIMITS.thumbnailEdgePx, quality: MEDIA_LIMITS.thumbnailJpegQuality, maxPixels: LIMITS.maxImagePixels };
// The preview hint compares a photo's embedded preview with its thumbnail: each photo's, made here so the step
// can run alone (`--steps preview`) and over any number of photos.
const thumbs: Buffer[] = [];
for (const p of photos) thumbs.push((await imageThumbnail(p, settings, 'image/jpeg')).jpeg);

const steps: Record<string, (p: Buffer, i: number) => Promise<unknown>> = {
  identify: async (p) => { const r = await identifier.identify(new BufferSource(p, 'IMG.JPG')); identifier.extensionMismatch('IMG.JPG', r); return r; },
  'metadata (exifr)': (p) => metadata.image(new BufferSource(p, 'IMG.JPG'), { mime: 'image/jpeg' }),
  'thumbnailer.image (all)': (p) => thumbnailer.image(new BufferSource(p, 'IMG.JPG'), { mime: 'image/jpeg' }),
  '  trailing-data scan': (p) => trailingDataSandboxed(p),
  '  imageThumbnail (incl. trailing)': (p) => imageThumbnail(p, settings, 'image/jpeg'),
  '  preview hint': (p, i) => compareEmbeddedPreview(p, thumbs[i]!, { maxPixels: settings.maxPixels }),
  '  pdq decode': (p) => pdqPixelsFromImage(p, { mime: 'image/jpeg' }),
  '  pdq (decode+hash)': async (p) => pdqFromPixels(await pdqPixelsFromImage(p, { mime: 'image/jpeg' })),
};
const only = values.steps ? values.steps.split(',') : null;
// warm-up
for (const [, fn] of Object.entries(steps)) for (let i = 0; i < Math.min(10, N); i++) await fn(photos[i]!, i);
const results: Record<string, Array<{ total: number; groups: Record<string, number> }>> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(steps)) {
    if (only && !only.some((o) => name.includes(o))) continue;
    const t0 = threadTicks();
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) await fn(photos[i]!, i);
    const c = process.cpuUsage(c0);
    const g = diff(t0, threadTicks());
    (results[name] ??= []).push({ total: (c.user + c.system) / 1000 / N, groups: Object.fromEntries(Object.entries(g).filter(([, v]) => v > 0).map(([k, v]) => [k, v / N])) });
  }
}
for (const [name, rs] of Object.entries(results)) {
  const groups = rs.map((x) => Object.entries(x.groups).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
  console.log(`${name.padEnd(36)} CPU ms/photo: ${rs.map((x) => x.total.toFixed(1)).join(' / ')}   [${groups.join(' | ')}]`);
}
process.exit(0);
