/**
 * The raw ext4 image of `npm run bench:disk`, built without mounting: the
 * files are written to a staging folder and `mkfs.ext4 -d` copies them into a
 * fresh volume (fixed UUID and hash seed, as the test builders do). Photos are
 * real JPEGs: a pool of painted camera frames (camera-photo.painter.ts), each
 * photo one of them with its own EXIF (camera, time taken, GPS), so every
 * photo has its own SHA-256 and metadata while generation stays fast.
 * Documents are small text files; padding files (pseudo-random bytes) fill the
 * image to its size. The image and its manifest are cached under the cache
 * folder per (size, files, generator); the staging folder is removed once the
 * image is built.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { run } from '../../packages/pipeline/src/disk/test-support/disk-image.builder.js';
import { ascii, buildExif, dms, rational, short, TAGS, withExifSegment } from '../../packages/media/src/test-support/exif.builder.js';
import { encodeJpeg } from '../../samples/lib/photo.encoder.js';
import { frameFor, paintCameraPhoto } from './camera-photo.painter.js';
import { diskCorpusPath, planDiskCorpus, type DiskCorpusPlan } from './disk-corpus.plan.js';

/** Bump when the generator changes, so cached images from an older generator are not reused. */
const GENERATOR_VERSION = 1;
const JPEG_QUALITY = 92;
/** Distinct painted frames; photos share them, each with its own EXIF. */
const FRAME_POOL = 48;
const UUID = '15151515-1515-4515-8515-000000000015';

export interface DiskCorpusFile {
  /** Path in the file system, without a leading slash. */
  path: string;
  bytes: number;
  sha256: string;
  kind: 'photo' | 'document' | 'padding';
}

export interface DiskCorpus {
  imageFile: string;
  imageBytes: number;
  imageSha256: string;
  plan: DiskCorpusPlan;
  files: DiskCorpusFile[];
  fileBytes: number;
  photoBytes: number;
  fromCache: boolean;
  buildMs: number;
}

const CAMERAS = [
  ['Canon', 'Canon EOS R6'],
  ['NIKON CORPORATION', 'NIKON Z 6_2'],
  ['SONY', 'ILCE-7M4'],
  ['Apple', 'iPhone 15 Pro'],
] as const;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Photo `i`'s EXIF: a camera roll over weeks, wandering around a city, a few shots without GPS. */
export function photoExif(i: number): Buffer {
  const [make, model] = CAMERAS[i % CAMERAS.length]!;
  const taken = new Date(Date.UTC(2025, 2, 1, 8, 0, 0) + i * 173_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const wallClock = `${taken.getUTCFullYear()}:${pad(taken.getUTCMonth() + 1)}:${pad(taken.getUTCDate())} ${pad(taken.getUTCHours())}:${pad(taken.getUTCMinutes())}:${pad(taken.getUTCSeconds())}`;
  const lat = 48.85 + ((i * 37) % 400) / 10_000;
  const lon = 2.29 + ((i * 53) % 600) / 10_000;
  return buildExif({
    ifd0: { [TAGS.Make]: ascii(make), [TAGS.Model]: ascii(model), [TAGS.DateTime]: ascii(wallClock), [TAGS.Orientation]: short(1) },
    exif: { [TAGS.DateTimeOriginal]: ascii(wallClock), [TAGS.OffsetTimeOriginal]: ascii('+01:00'), [TAGS.SubSecTimeOriginal]: ascii(String(i % 100).padStart(2, '0')) },
    ...(i % 7 === 6
      ? {}
      : { gps: { [TAGS.GPSLatitudeRef]: ascii('N'), [TAGS.GPSLatitude]: dms(lat), [TAGS.GPSLongitudeRef]: ascii('E'), [TAGS.GPSLongitude]: dms(lon), [TAGS.GPSAltitude]: rational([35 + (i % 20), 1]) } }),
  });
}

function documentText(i: number): Buffer {
  const lines = 20 + (i % 80);
  const body = Array.from({ length: lines }, (_, n) => `${i},${n},entry ${i * 31 + n},value ${(i * 7919 + n * 104729) % 1_000_003}`).join('\n');
  return Buffer.from(`note ${i}\n${body}\n`);
}

/** Deterministic incompressible bytes, fast: AES-CTR's keystream over zeros. */
async function writePadding(file: string, bytes: number, seed: number): Promise<string> {
  const key = createHash('sha256').update(`padding-${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  const zeros = Buffer.alloc(4 * 1024 * 1024);
  for (let left = bytes; left > 0; left -= zeros.length) {
    const chunk = cipher.update(zeros.subarray(0, Math.min(left, zeros.length)));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

interface Manifest {
  generatorVersion: number;
  imageBytes: number;
  imageSha256: string;
  plan: DiskCorpusPlan;
  files: DiskCorpusFile[];
}

function summarise(imageFile: string, m: Manifest, fromCache: boolean, started: number): DiskCorpus {
  return {
    imageFile,
    imageBytes: m.imageBytes,
    imageSha256: m.imageSha256,
    plan: m.plan,
    files: m.files,
    fileBytes: m.files.reduce((s, f) => s + f.bytes, 0),
    photoBytes: m.files.filter((f) => f.kind === 'photo').reduce((s, f) => s + f.bytes, 0),
    fromCache,
    buildMs: performance.now() - started,
  };
}

export async function buildDiskCorpus(options: { imageBytes: number; files: number; cacheDir: string; log: (line: string) => void }): Promise<DiskCorpus> {
  const started = performance.now();
  const plan = planDiskCorpus(options);
  const key = `ext4-${options.imageBytes}-f${options.files}-g${GENERATOR_VERSION}`;
  const imageFile = path.join(options.cacheDir, `${key}.img`);
  const manifestFile = path.join(options.cacheDir, `${key}.json`);
  if ((await exists(imageFile)) && (await exists(manifestFile))) {
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Manifest;
    if (manifest.generatorVersion === GENERATOR_VERSION && (await stat(imageFile)).size === manifest.imageBytes) return summarise(imageFile, manifest, true, started);
  }

  const staging = path.join(options.cacheDir, `${key}.staging`);
  await rm(staging, { recursive: true, force: true });
  const files: DiskCorpusFile[] = [];
  const put = async (kind: DiskCorpusFile['kind'], i: number, bytes: Buffer) => {
    const p = diskCorpusPath(kind, i);
    await mkdir(path.dirname(path.join(staging, p)), { recursive: true });
    await writeFile(path.join(staging, p), bytes);
    files.push({ path: p, bytes: bytes.length, sha256: sha256(bytes), kind });
  };

  // The painter's bytes per pixel depend on the frame size; one trial frame calibrates it.
  const trialFrame = frameFor(plan.photoMegapixels);
  const trial = await encodeJpeg(paintCameraPhoto(999, trialFrame.width, trialFrame.height), { quality: JPEG_QUALITY });
  const frame = frameFor(plan.photoMegapixels * Math.min(1, (0.95 * plan.photoTargetBytes) / trial.length));
  options.log(`painting ${FRAME_POOL} camera frames ${frame.width}x${frame.height} (photos of about ${(plan.photoTargetBytes / 1e3).toFixed(0)} KB)…`);
  const pool: Buffer[] = [];
  for (let i = 0; i < FRAME_POOL; i++) pool.push(await encodeJpeg(paintCameraPhoto(1000 + i, frame.width, frame.height), { quality: JPEG_QUALITY }));
  options.log(`writing ${plan.photos} photos, ${plan.documents} documents and ${plan.paddingFiles} padding files to ${staging}…`);
  for (let i = 0; i < plan.photos; i++) {
    await put('photo', i, withExifSegment(pool[i % FRAME_POOL]!, photoExif(i)));
    if ((i + 1) % 5000 === 0) options.log(`  ${i + 1}/${plan.photos} photos`);
  }
  for (let i = 0; i < plan.documents; i++) await put('document', i, documentText(i));
  const written = files.reduce((s, f) => s + f.bytes, 0);
  const paddingEach = Math.max(0, Math.floor((plan.contentBudgetBytes - written) / plan.paddingFiles));
  for (let i = 0; i < plan.paddingFiles; i++) {
    const p = diskCorpusPath('padding', i);
    await mkdir(path.dirname(path.join(staging, p)), { recursive: true });
    files.push({ path: p, bytes: paddingEach, sha256: await writePadding(path.join(staging, p), paddingEach, i), kind: 'padding' });
  }

  options.log(`mkfs.ext4 -d into a ${(plan.imageBytes / 1024 ** 3).toFixed(2)} GiB image…`);
  const tmp = `${imageFile}.${process.pid}.tmp`;
  await writeFile(tmp, Buffer.alloc(0));
  await truncate(tmp, plan.imageBytes);
  try {
    run('mke2fs', ['-q', '-t', 'ext4', '-b', '4096', '-m', '0', '-N', String(options.files + 4096), '-U', UUID, '-E', `hash_seed=${UUID},lazy_itable_init=0`, '-L', 'BENCHDISK', '-d', staging, tmp]);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  options.log('hashing the image (its acquisition SHA-256)…');
  const manifest: Manifest = { generatorVersion: GENERATOR_VERSION, imageBytes: plan.imageBytes, imageSha256: await sha256File(tmp), plan, files };
  await rename(tmp, imageFile);
  await writeFile(manifestFile, JSON.stringify(manifest));
  return summarise(imageFile, manifest, false, started);
}

/** The corpus's raw image acquired as an E01 (`--e01`): one segment, ewfacquire's fast compression, its stored SHA-1 and MD5. */
export interface DiskCorpusEwf {
  e01File: string;
  e01Bytes: number;
  e01Sha256: string;
  fromCache: boolean;
}

/**
 * Wraps the corpus's raw image as an E01 with `ewfacquire -c fast` (what an
 * examiner's acquisition of the disk would hand over), cached beside the
 * image. The E01 must be one segment (the bench uploads one blob): images
 * larger than ewfacquire's 1.4 GiB default segment get a segment of 7 GiB (EnCase 6 format).
 */
export async function diskCorpusAsEwf(corpus: DiskCorpus, log: (line: string) => void): Promise<DiskCorpusEwf> {
  const target = corpus.imageFile.replace(/\.img$/, '');
  const e01File = `${target}.E01`;
  const manifestFile = `${target}.e01.json`;
  if ((await exists(e01File)) && (await exists(manifestFile))) {
    const m = JSON.parse(await readFile(manifestFile, 'utf8')) as { e01Bytes: number; e01Sha256: string };
    if ((await stat(e01File)).size === m.e01Bytes) return { e01File, ...m, fromCache: true };
  }
  log(`ewfacquire -c fast into ${e01File}…`);
  await rm(e01File, { force: true });
  const big = corpus.imageBytes > 1.4 * 1024 ** 3;
  run('ewfacquire', ['-u', '-t', target, '-c', 'fast', '-m', 'fixed', '-d', 'sha1', ...(big ? ['-f', 'encase6', '-S', '7GiB'] : []), corpus.imageFile]);
  if (await exists(`${target}.E02`)) throw new Error(`ewfacquire wrote more than one segment for ${corpus.imageFile}; the bench uploads one blob`);
  const m = { e01Bytes: (await stat(e01File)).size, e01Sha256: await sha256File(e01File) };
  await writeFile(manifestFile, JSON.stringify(m));
  return { e01File, ...m, fromCache: false };
}
