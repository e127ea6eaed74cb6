import sharp from 'sharp';
import type { FileKind } from '@exhibit/core';
import { writeTarGz, writeZip, type ArchiveEntry } from './archive.writers.js';
import { STYLES, type CasePlan, type Content, type Member, type PaintOver, type SceneSpec, type VideoPlan } from './case.plan.js';
import { digests } from './digests.js';
import { buildExt4Volume, buildFatCard, type DiskFile } from './disk.builder.js';
import { writeEwf } from './ewf.writer.js';
import { withExifThumbnail } from './exif-thumbnail.writer.js';
import { encodeHeic } from './heic.encoder.js';
import { destroyScan } from './jpeg.damager.js';
import type {
  DiskExpectation,
  FileExpectation,
  RecordedWallClock,
  SampleDirectory,
  SampleFile,
  SampleManifest,
  ThumbnailExpectation,
} from './manifest.types.js';
import { encodeJpeg, encodePng, reencodeJpeg, type CameraExif } from './photo.encoder.js';
import { paintScene, type RawImage } from './scene.painter.js';
import type { SampleTools } from './tools.js';
import { encodeVideo, probeVideoBuffer } from './video.encoder.js';

export interface BuiltCase {
  manifest: SampleManifest;
  /** Upload bytes keyed by `<caseId>/<evidenceId>/<fileName>`. */
  uploads: Map<string, Buffer>;
}

interface Built {
  bytes: Buffer;
  /** Facts only known after encoding (e.g. the duration ffprobe measures, a disk image's media hashes). */
  measured: { durationSec?: number; media?: DiskExpectation['media'] };
}

/** The version the E01 header records as the acquiring software: this generator, not a real acquisition. */
export const EWF_SOFTWARE = { version: 'exhibit-samples 1', os: 'none (generated)' };

function scenePixels(scene: SceneSpec): RawImage {
  const style = STYLES[scene.style % STYLES.length]!;
  return paintScene({
    width: scene.width,
    height: scene.height,
    sky: style.sky,
    ground: style.ground,
    sun: { colour: style.sun, xPct: 62 + ((scene.style * 7) % 25), yPct: 22 + ((scene.style * 5) % 15), radiusPct: 10 + (scene.style % 4) * 2 },
    seed: 1000 + scene.style * 7919 + scene.width,
    blockColour: style.blocks,
    label: scene.label,
    labelColour: style.ink,
  });
}

/** A copy of `image` with a solid rectangle painted over it (percent of the picture, clipped to it). */
function paintedOver(image: RawImage, box: PaintOver): RawImage {
  const data = Buffer.from(image.data);
  const x0 = Math.floor((image.width * box.xPct) / 100);
  const y0 = Math.floor((image.height * box.yPct) / 100);
  const x1 = Math.min(image.width, x0 + Math.floor((image.width * box.wPct) / 100));
  const y1 = Math.min(image.height, y0 + Math.floor((image.height * box.hPct) / 100));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const at = (y * image.width + x) * 3;
      data[at] = box.colour[0];
      data[at + 1] = box.colour[1];
      data[at + 2] = box.colour[2];
    }
  }
  return { ...image, data };
}

async function exifPreview(pixels: RawImage, width: number): Promise<Buffer> {
  return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } })
    .resize({ width })
    .jpeg({ quality: 70, chromaSubsampling: '4:2:0', optimiseCoding: true, mozjpeg: false })
    .toBuffer();
}

/** ISO 6709 as phones write it: ±DD.DDDD±DDD.DDDD[±AAA.AAA]/ */
export function iso6709(location: VideoPlan['location']): string {
  const signed = (v: number, intDigits: number, decimals: number) =>
    (v < 0 ? '-' : '+') + Math.abs(v).toFixed(decimals).padStart(intDigits + 1 + decimals, '0');
  const alt = location.altM === undefined ? '' : signed(location.altM, 3, 3);
  return `${signed(location.lat, 2, 4)}${signed(location.lon, 3, 4)}${alt}/`;
}

function videoTags(video: VideoPlan): Record<string, string> {
  return video.flavour === 'apple'
    ? {
        'com.apple.quicktime.make': video.make,
        'com.apple.quicktime.model': video.model,
        'com.apple.quicktime.location.ISO6709': iso6709(video.location),
      }
    : { location: iso6709(video.location), 'com.android.manufacturer': video.make, 'com.android.model': video.model };
}

class CaseBuilder {
  private readonly cache = new Map<Content, Built>();

  constructor(private readonly tools: SampleTools) {}

  private async diskFiles(members: readonly Member[]): Promise<DiskFile[]> {
    const files: DiskFile[] = [];
    for (const m of members) files.push({ path: m.path, mtime: m.mtime, bytes: (await this.build(m.content)).bytes });
    return files;
  }

  async build(content: Content): Promise<Built> {
    const cached = this.cache.get(content);
    if (cached) return cached;
    const built = await this.encode(content);
    this.cache.set(content, built);
    return built;
  }

  private async encode(content: Content): Promise<Built> {
    switch (content.type) {
      case 'jpeg':
        return { bytes: await encodeJpeg(scenePixels(content.scene), { quality: content.quality, exif: content.exif }), measured: {} };
      case 'png':
        return { bytes: await encodePng(scenePixels(content.scene)), measured: {} };
      case 'heic': {
        // The carrier JPEG is near-lossless; the HEVC encode decides the quality.
        const carrier = await encodeJpeg(scenePixels(content.scene), { quality: 95, exif: content.exif });
        return { bytes: await encodeHeic(carrier, { heifEnc: this.tools.heifEnc, quality: 50 }), measured: {} };
      }
      case 'video': {
        const v = content.video;
        const bytes = await encodeVideo(
          { ...v, container: v.flavour === 'apple' ? 'mov' : 'mp4', tags: videoTags(v) },
          { ffmpeg: this.tools.ffmpeg },
        );
        const probed = await probeVideoBuffer(bytes, v.flavour === 'apple' ? 'mov' : 'mp4', { ffprobe: this.tools.ffprobe });
        return { bytes, measured: { durationSec: Math.round(probed.durationSec * 1000) / 1000 } };
      }
      case 'damaged-jpeg': {
        const pixels = scenePixels(content.scene);
        const photo = await encodeJpeg(pixels, { quality: content.quality, exif: content.exif });
        const thumbnail = await exifPreview(pixels, content.thumbnailWidth);
        return { bytes: destroyScan(withExifThumbnail(photo, thumbnail), `damaged:${content.scene.label}`), measured: {} };
      }
      case 'camera-jpeg': {
        // The preview is made from the exposure; an edit (paintOver) changes only the main image.
        const pixels = scenePixels(content.scene);
        const thumbnail = await exifPreview(pixels, content.thumbnailWidth);
        const main = content.paintOver ? paintedOver(pixels, content.paintOver) : pixels;
        const photo = await encodeJpeg(main, { quality: content.quality, exif: content.exif });
        return { bytes: withExifThumbnail(photo, thumbnail), measured: {} };
      }
      case 'resent-jpeg': {
        const original = await this.build(content.original);
        return { bytes: await reencodeJpeg(original.bytes, content), measured: {} };
      }
      case 'corrupt-jpeg': {
        // No EXIF, so no embedded preview to fall back to.
        const photo = await encodeJpeg(scenePixels(content.scene), { quality: content.quality });
        return { bytes: destroyScan(photo, `corrupt:${content.scene.label}`), measured: {} };
      }
      case 'text':
        return { bytes: Buffer.from(content.text, 'utf8'), measured: {} };
      case 'zip':
      case 'tar.gz': {
        const entries: ArchiveEntry[] = [];
        for (const dir of archiveDirectories(content.members, content.emptyDirectories ?? [])) {
          entries.push({ path: dir, mtime: content.directoryMtime });
        }
        for (const member of content.members) {
          const built = await this.build(member.content);
          entries.push({ path: member.path, mtime: member.mtime, data: built.bytes, compress: member.content.type === 'text' });
        }
        entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
        const bytes = content.type === 'zip' ? await writeZip(entries) : await writeTarGz(entries);
        return { bytes, measured: {} };
      }
      case 'fat32-e01': {
        const files = await this.diskFiles(content.members);
        const media = await buildFatCard(files, { ...content.card, directoryMtime: content.directoryMtime, deleted: content.deleted });
        const e = content.ewf;
        const bytes = writeEwf(media, {
          caseNumber: e.caseNumber,
          evidenceNumber: e.evidenceNumber,
          description: e.description,
          examiner: e.examiner,
          notes: e.notes,
          acquiredAt: new Date(e.acquiredAt),
          mediaType: 'removable',
          software: EWF_SOFTWARE,
        });
        return { bytes, measured: { media: digests(media) } };
      }
      case 'ext4-raw': {
        const bytes = await buildExt4Volume(await this.diskFiles(content.members), { ...content.volume, directoryMtime: content.directoryMtime });
        return { bytes, measured: { media: digests(bytes) } };
      }
    }
  }
}

/** Every parent directory of the members, plus the empty ones, each ending in '/'. */
export function diskDirectories(content: Extract<Content, { type: 'fat32-e01' | 'ext4-raw' }>): string[] {
  const dirs = archiveDirectories(content.members, []);
  // mke2fs makes lost+found on every ext volume.
  return content.type === 'ext4-raw' ? [...dirs, 'lost+found/'].sort() : dirs;
}

/** The path the file system lists: a deleted FAT entry has lost its first byte, shown as '_' (as TSK shows it). */
export function listedPath(content: Content, member: Member): string {
  if (content.type !== 'fat32-e01' || !content.deleted.includes(member.path)) return member.path;
  const slash = member.path.lastIndexOf('/');
  return `${member.path.slice(0, slash + 1)}_${member.path.slice(slash + 2)}`;
}

function archiveDirectories(members: readonly Member[], empty: readonly string[]): string[] {
  const dirs = new Set<string>(empty);
  for (const m of members) {
    const parts = m.path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/') + '/');
  }
  return [...dirs].sort();
}

interface Signature {
  kind: FileKind;
  /** What content sniffing reports; null when the format has no signature. */
  mime: string | null;
  /** Extensions that fit the content (lower case). */
  exts: string[];
  thumbnail: ThumbnailExpectation;
}

const SIGNATURES: Record<Exclude<Content['type'], 'video'>, Signature> = {
  jpeg: { kind: 'image', mime: 'image/jpeg', exts: ['jpg', 'jpeg'], thumbnail: 'image' },
  'damaged-jpeg': { kind: 'image', mime: 'image/jpeg', exts: ['jpg', 'jpeg'], thumbnail: 'exif-preview' },
  'camera-jpeg': { kind: 'image', mime: 'image/jpeg', exts: ['jpg', 'jpeg'], thumbnail: 'image' },
  'resent-jpeg': { kind: 'image', mime: 'image/jpeg', exts: ['jpg', 'jpeg'], thumbnail: 'image' },
  'corrupt-jpeg': { kind: 'image', mime: 'image/jpeg', exts: ['jpg', 'jpeg'], thumbnail: 'fail' },
  png: { kind: 'image', mime: 'image/png', exts: ['png'], thumbnail: 'image' },
  heic: { kind: 'image', mime: 'image/heic', exts: ['heic', 'heif'], thumbnail: 'image' },
  // Plain text has no signature; it is known by its bytes (UTF-8 without control characters),
  // and no name contradicts it (notes, logs and CSV are all text).
  text: { kind: 'document', mime: 'text/plain', exts: [], thumbnail: 'none' },
  zip: { kind: 'archive', mime: 'application/zip', exts: ['zip'], thumbnail: 'none' },
  'tar.gz': { kind: 'archive', mime: 'application/gzip', exts: ['gz', 'tgz'], thumbnail: 'none' },
  // No file-type signature: the pipeline's own sniffing names them (packages/media/src/identify/disk-image-sniff.ts).
  'fat32-e01': { kind: 'archive', mime: 'application/x-ewf', exts: ['e01'], thumbnail: 'none' },
  'ext4-raw': { kind: 'archive', mime: 'application/x-raw-disk-image', exts: ['dd', 'img', 'raw', '001'], thumbnail: 'none' },
};

function signatureOf(content: Content): Signature {
  if (content.type === 'video') {
    return content.video.flavour === 'apple'
      ? { kind: 'video', mime: 'video/quicktime', exts: ['mov', 'qt'], thumbnail: 'contact-sheet' }
      : { kind: 'video', mime: 'video/mp4', exts: ['mp4', 'm4v'], thumbnail: 'contact-sheet' };
  }
  return SIGNATURES[content.type];
}

const exifToIso = (exifTime: string) => exifTime.replace(/^(\d{4}):(\d{2}):(\d{2}) /, '$1-$2-$3T');

function offsetToMinutes(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new Error(`bad offset ${offset}`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function utcOf(local: string, offsetMinutes: number): string {
  const asUtc = Date.parse(`${local}Z`) - offsetMinutes * 60_000;
  return new Date(asUtc).toISOString().replace('.000Z', 'Z');
}

function exifExpectation(exif: CameraExif): Partial<FileExpectation> {
  const local = exifToIso(exif.dateTimeOriginal);
  const offsetMinutes = exif.offsetTimeOriginal === undefined ? null : offsetToMinutes(exif.offsetTimeOriginal);
  return {
    takenAtLocal: local,
    offsetMinutes,
    takenAtUtc: offsetMinutes === null ? null : utcOf(local, offsetMinutes),
    ...(exif.gps ? { gps: { lat: exif.gps.lat, lon: exif.gps.lon } } : {}),
    make: exif.make,
    model: exif.model,
  };
}

function expectationOf(content: Content, built: Built, name: string, depth: number): FileExpectation {
  const sig = signatureOf(content);
  const ext = /\.([^./]+)$/.exec(name)?.[1]?.toLowerCase();
  const expect: FileExpectation = {
    depth,
    thumbnail: sig.thumbnail,
    extMismatch: sig.mime !== null && content.type !== 'text' && (ext === undefined || !sig.exts.includes(ext)),
  };
  switch (content.type) {
    case 'jpeg':
    case 'png':
    case 'heic':
      Object.assign(expect, { width: content.scene.width, height: content.scene.height });
      if (content.type !== 'png' && content.exif) {
        Object.assign(expect, exifExpectation(content.exif), { orientation: content.exif.orientation ?? 1 });
      }
      break;
    case 'damaged-jpeg':
      Object.assign(expect, exifExpectation(content.exif), { orientation: content.exif.orientation ?? 1 });
      break;
    case 'camera-jpeg':
      Object.assign(expect, { width: content.scene.width, height: content.scene.height }, exifExpectation(content.exif), {
        orientation: content.exif.orientation ?? 1,
        previewDiffers: content.paintOver !== undefined,
      });
      break;
    case 'resent-jpeg':
      Object.assign(expect, { width: content.width, height: content.height, nearDuplicateOf: content.originalPath });
      break;
    case 'corrupt-jpeg':
      expect.failure = 'decode-failed';
      break;
    case 'video': {
      const v = content.video;
      // The movie header's time as written, no zone: QuickTime says UTC, but many cameras write local
      // time there, so Exhibit shows it as recorded (docs/architecture.md, capture times).
      const local = v.creationTimeUtc.replace(/Z$/, '');
      Object.assign(expect, {
        takenAtLocal: local,
        offsetMinutes: null,
        takenAtUtc: null,
        gps: { lat: v.location.lat, lon: v.location.lon },
        make: v.make,
        model: v.model,
        width: v.width,
        height: v.height,
        durationSec: built.measured.durationSec,
      });
      break;
    }
    case 'zip':
    case 'tar.gz':
      expect.members = {
        files: content.members.length,
        directories: archiveDirectories(content.members, content.emptyDirectories ?? []).length,
      };
      break;
    case 'fat32-e01':
    case 'ext4-raw': {
      const directories = diskDirectories(content).length;
      expect.members = { files: content.members.length, directories };
      const e = content.type === 'fat32-e01' ? content.ewf : undefined;
      expect.disk = {
        format: content.type === 'fat32-e01' ? 'ewf' : 'raw',
        fileSystem: content.type === 'fat32-e01' ? 'fat32' : 'ext4',
        label: content.type === 'fat32-e01' ? content.card.label : content.volume.label,
        entries: content.members.length + directories,
        media: built.measured.media!,
        ...(e ? { ewfHeader: { ...e } } : {}),
      };
      break;
    }
    case 'text':
      break;
  }
  return expect;
}

const REPRODUCIBLE_BYTES = new Set<Content['type']>(['jpeg', 'damaged-jpeg', 'camera-jpeg', 'resent-jpeg', 'corrupt-jpeg', 'text']);

/** Builds the case in memory: upload bytes plus the manifest describing every file. */
export async function buildCase(plan: CasePlan, tools: SampleTools): Promise<BuiltCase> {
  const builder = new CaseBuilder(tools);
  const uploads = new Map<string, Buffer>();
  const manifest: SampleManifest = { format: 'exhibit-samples/1', caseId: plan.caseId, generatedWith: tools.versions, evidence: [] };

  const describe = async (
    content: Content,
    displayPath: string,
    depth: number,
    archiveModified: RecordedWallClock | undefined,
    files: SampleFile[],
    directories: SampleDirectory[],
  ): Promise<Buffer> => {
    const built = await builder.build(content);
    const expect = expectationOf(content, built, displayPath, depth);
    if (archiveModified) expect.archiveModified = archiveModified;
    const sig = signatureOf(content);
    files.push({
      path: displayPath,
      sha256: digests(built.bytes).sha256,
      size: built.bytes.length,
      kind: sig.kind,
      mime: sig.mime,
      reproducible: REPRODUCIBLE_BYTES.has(content.type) ? 'bytes' : 'same-tools',
      expect,
    });
    if (content.type === 'fat32-e01' || content.type === 'ext4-raw') {
      // FAT keeps the device's wall clock with no zone; ext4 keeps UTC seconds.
      const offsetMinutes = content.type === 'fat32-e01' ? null : 0;
      for (const dir of diskDirectories(content)) {
        directories.push({ path: `${displayPath}!/${dir.replace(/\/$/, '')}`, depth: depth + 1, archiveModified: { local: content.directoryMtime, offsetMinutes } });
      }
      for (const member of content.members) {
        const memberPath = `${displayPath}!/${listedPath(content, member)}`;
        const before = files.length;
        await describe(member.content, memberPath, depth + 1, { local: member.mtime, offsetMinutes }, files, directories);
        if (content.type === 'fat32-e01' && content.deleted.includes(member.path)) Object.assign(files[before]!.expect, { deleted: true, recovered: true });
      }
    }
    if (content.type === 'zip' || content.type === 'tar.gz') {
      // Zip DOS times are local wall clock with no zone; tar times are UTC.
      const offsetMinutes = content.type === 'zip' ? null : 0;
      for (const dir of archiveDirectories(content.members, content.emptyDirectories ?? [])) {
        directories.push({
          path: `${displayPath}!/${dir.replace(/\/$/, '')}`,
          depth: depth + 1,
          archiveModified: { local: content.directoryMtime, offsetMinutes },
        });
      }
      for (const member of content.members) {
        await describe(member.content, `${displayPath}!/${member.path}`, depth + 1, { local: member.mtime, offsetMinutes }, files, directories);
      }
    }
    return built.bytes;
  };

  for (const ev of plan.evidence) {
    const files: SampleFile[] = [];
    const directories: SampleDirectory[] = [];
    const uploadRows = [];
    for (const upload of ev.uploads) {
      const bytes = await describe(upload.content, upload.fileName, 0, undefined, files, directories);
      uploads.set(`${plan.caseId}/${ev.evidenceId}/${upload.fileName}`, bytes);
      uploadRows.push({ fileName: upload.fileName, ...digests(bytes) });
    }
    manifest.evidence.push({ evidenceId: ev.evidenceId, uploads: uploadRows, files, directories });
  }
  return { manifest, uploads };
}
