import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import { encodeJpeg, type CameraExif } from '../../samples/lib/photo.encoder.js';
import { iso6709 } from '../../samples/lib/sample.builder.js';
import { encodeVideo } from '../../samples/lib/video.encoder.js';
import { frameFor, paintCameraPhoto } from './camera-photo.painter.js';

/** Bump when the generator changes, so cached corpora from an older generator are not reused. */
const GENERATOR_VERSION = 1;
const JPEG_QUALITY = 92;
const VIDEO = { width: 1280, height: 720, durationSec: 5 } as const;

export interface CorpusOptions {
  photos: number;
  videos: number;
  megapixels: number;
  /** Deflate members; off by default (see bench.ts for why). */
  deflate: boolean;
  /** Cache folder; generated files are reused across runs with the same parameters. */
  cacheDir: string;
  ffmpeg: string;
  log: (line: string) => void;
}

export interface CorpusMember {
  /** Path inside the archive. */
  name: string;
  /** The same bytes on local disk (what `sha256sum` is timed on). */
  file: string;
  bytes: number;
  sha256: string;
  kind: 'photo' | 'video';
}

export interface Corpus {
  archiveFile: string;
  archiveBytes: number;
  archiveSha256: string;
  members: CorpusMember[];
  memberBytes: number;
  frame: { width: number; height: number };
  fromCache: boolean;
  buildMs: number;
}

const CAMERAS = [
  { make: 'Apple', model: 'iPhone 15 Pro', software: '17.4.1' },
  { make: 'Google', model: 'Pixel 8', software: 'HDR+ 1.0.612345' },
  { make: 'samsung', model: 'SM-S918B', software: 'S918BXXS3BWK5' },
] as const;

/** A camera roll: consecutive shots a minute or two apart, wandering around Amsterdam. */
function exifFor(i: number): CameraExif {
  const camera = CAMERAS[i % CAMERAS.length]!;
  const taken = new Date(Date.UTC(2024, 4, 1, 9, 0, 0) + i * 97_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const wallClock = `${taken.getUTCFullYear()}:${pad(taken.getUTCMonth() + 1)}:${pad(taken.getUTCDate())} ${pad(taken.getUTCHours())}:${pad(taken.getUTCMinutes())}:${pad(taken.getUTCSeconds())}`;
  return {
    ...camera,
    dateTimeOriginal: wallClock,
    offsetTimeOriginal: '+02:00',
    gps: { lat: Number((52.3731 + ((i * 37) % 200) / 10_000).toFixed(4)), lon: Number((4.8922 + ((i * 53) % 300) / 10_000).toFixed(4)) },
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

/** Write-then-rename, so an interrupted run never leaves a truncated file in the cache. */
async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function ensurePhotos(options: CorpusOptions, frame: { width: number; height: number }): Promise<string[]> {
  const dir = path.join(options.cacheDir, `photos-${frame.width}x${frame.height}-q${JPEG_QUALITY}-g${GENERATOR_VERSION}`);
  await mkdir(dir, { recursive: true });
  const files = Array.from({ length: options.photos }, (_, i) => path.join(dir, `IMG_${String(i + 1).padStart(4, '0')}.jpg`));
  const missing: number[] = [];
  for (let i = 0; i < files.length; i++) if (!(await exists(files[i]!))) missing.push(i);
  if (missing.length === 0) return files;

  options.log(`generating ${missing.length} photos ${frame.width}x${frame.height} in ${dir} (cached for later runs)…`);
  const started = performance.now();
  let done = 0;
  // Painting is synchronous JavaScript, encoding runs on libvips threads: two
  // in flight lets one shot be painted while the previous one is encoded.
  const queue = [...missing];
  const worker = async () => {
    for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
      const painted = paintCameraPhoto(i, frame.width, frame.height);
      const jpeg = await encodeJpeg(painted, { quality: JPEG_QUALITY, exif: exifFor(i) });
      await writeAtomically(files[i]!, jpeg);
      done += 1;
      if (done % 10 === 0 || done === missing.length) {
        options.log(`  ${done}/${missing.length} photos (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return files;
}

async function ensureVideos(options: CorpusOptions): Promise<string[]> {
  const dir = path.join(options.cacheDir, `videos-${VIDEO.width}x${VIDEO.height}-${VIDEO.durationSec}s-g${GENERATOR_VERSION}`);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < options.videos; i++) {
    const file = path.join(dir, `VID_${String(i + 1).padStart(4, '0')}.mp4`);
    files.push(file);
    if (await exists(file)) continue;
    options.log(`generating video ${i + 1}/${options.videos} (${VIDEO.width}x${VIDEO.height}, ${VIDEO.durationSec} s H.264)…`);
    const bytes = await encodeVideo(
      {
        container: 'mp4',
        source: 'testsrc',
        width: VIDEO.width,
        height: VIDEO.height,
        durationSec: VIDEO.durationSec,
        audio: false,
        creationTimeUtc: new Date(Date.UTC(2024, 4, 1, 10, i, 0)).toISOString().replace('.000Z', 'Z'),
        tags: {
          location: iso6709({ lat: 52.3702 + i / 1000, lon: 4.8952 + i / 1000 }),
          'com.android.manufacturer': 'Google',
          'com.android.model': 'Pixel 8',
        },
      },
      { ffmpeg: options.ffmpeg },
    );
    await writeAtomically(file, bytes);
  }
  return files;
}

interface ArchiveManifest {
  generatorVersion: number;
  archiveBytes: number;
  archiveSha256: string;
  members: CorpusMember[];
}

async function writeArchive(archiveFile: string, members: CorpusMember[], options: { deflate: boolean }): Promise<string> {
  const zip = new yazl.ZipFile();
  // A fixed mtime keeps the archive bytes identical from run to run.
  for (const m of members) zip.addFile(m.file, m.name, { compress: options.deflate, mtime: new Date(Date.UTC(2024, 4, 2)) });
  zip.end();
  const hash = createHash('sha256');
  zip.outputStream.on('data', (chunk: Buffer) => hash.update(chunk));
  const tmp = `${archiveFile}.${process.pid}.tmp`;
  await pipeline(zip.outputStream, createWriteStream(tmp));
  await rename(tmp, archiveFile);
  return hash.digest('hex');
}

/**
 * The benchmark corpus: N camera photos and M short videos in one ZIP, as a
 * phone extraction would deliver them. Photos and videos are cached per file
 * (a 50-photo corpus reuses the first 50 of a 150-photo one), archives per
 * parameter set.
 */
export async function buildCorpus(options: CorpusOptions): Promise<Corpus> {
  const started = performance.now();
  const frame = frameFor(options.megapixels);
  const key = `phone-p${options.photos}-v${options.videos}-${frame.width}x${frame.height}-${options.deflate ? 'deflate' : 'store'}-g${GENERATOR_VERSION}`;
  const archiveFile = path.join(options.cacheDir, `${key}.zip`);
  const manifestFile = path.join(options.cacheDir, `${key}.json`);

  if ((await exists(archiveFile)) && (await exists(manifestFile))) {
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as ArchiveManifest;
    const { size } = await stat(archiveFile);
    const membersPresent = await Promise.all(manifest.members.map((m) => exists(m.file)));
    if (manifest.generatorVersion === GENERATOR_VERSION && size === manifest.archiveBytes && membersPresent.every(Boolean)) {
      return {
        archiveFile,
        archiveBytes: size,
        archiveSha256: manifest.archiveSha256,
        members: manifest.members,
        memberBytes: manifest.members.reduce((s, m) => s + m.bytes, 0),
        frame,
        fromCache: true,
        buildMs: performance.now() - started,
      };
    }
  }

  const photoFiles = await ensurePhotos(options, frame);
  const videoFiles = await ensureVideos(options);
  options.log(`packing ${photoFiles.length + videoFiles.length} files into ${archiveFile}…`);
  const members: CorpusMember[] = [];
  for (const [kind, files] of [['photo', photoFiles], ['video', videoFiles]] as const) {
    for (const file of files) {
      const { size } = await stat(file);
      members.push({ name: `DCIM/Camera/${path.basename(file)}`, file, bytes: size, sha256: await sha256File(file), kind });
    }
  }
  const archiveSha256 = await writeArchive(archiveFile, members, { deflate: options.deflate });
  const archiveBytes = (await stat(archiveFile)).size;
  const manifest: ArchiveManifest = { generatorVersion: GENERATOR_VERSION, archiveBytes, archiveSha256, members };
  await writeAtomically(manifestFile, Buffer.from(JSON.stringify(manifest, null, 2)));
  return {
    archiveFile,
    archiveBytes,
    archiveSha256,
    members,
    memberBytes: members.reduce((s, m) => s + m.bytes, 0),
    frame,
    fromCache: false,
    buildMs: performance.now() - started,
  };
}
