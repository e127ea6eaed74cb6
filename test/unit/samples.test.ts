/**
 * The committed samples are what samples/expected.json says they are: read
 * back with exifr, ffprobe, sharp, heic-decode and file-type (not with the
 * code that wrote them), and regenerating gives the same manifest.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import exifr from 'exifr';
import { fileTypeFromBuffer } from 'file-type';
import heicDecode from 'heic-decode';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSamples, SAMPLES_DIR } from '../../samples/generate.js';
import { digests } from '../../samples/lib/digests.js';
import type { SampleFile, SampleManifest } from '../../samples/lib/manifest.types.js';
import { isSampleDiskImage, walkUpload, type WalkedEntry } from '../../samples/lib/sample.reader.js';
import { execFileSync } from 'node:child_process';
import { findTools, locate, type SampleTools } from '../../samples/lib/tools.js';
import { probeVideoBuffer } from '../../samples/lib/video.encoder.js';

const manifest = JSON.parse(await readFile(path.join(SAMPLES_DIR, 'expected.json'), 'utf8')) as SampleManifest;
const ffprobe = (await locate('ffprobe')).path;
// Regeneration needs ffmpeg, heif-enc (Debian libheif-examples), dosfstools, mtools and
// e2fsprogs (all installed by .ci/run).
// Without them the regeneration tests skip with the reason printed here, rather than
// failing: the committed samples are still checked against independent readers above.
const found = await findTools().then(
  (value): { tools: SampleTools; problem: null } => ({ tools: value, problem: null }),
  (err: unknown) => ({ tools: null, problem: err instanceof Error ? err.message : String(err) }),
);
const tools: SampleTools | null = found.tools;
const toolsProblem: string | null = found.problem;
if (toolsProblem !== null) console.warn(`samples: regeneration tests skipped: ${toolsProblem}`);

/** Every committed entry by evidence id and display path. */
const committed = new Map<string, Map<string, WalkedEntry>>();
beforeAll(async () => {
  for (const ev of manifest.evidence) {
    const entries = new Map<string, WalkedEntry>();
    for (const upload of ev.uploads) {
      const bytes = await readFile(path.join(SAMPLES_DIR, 'extraction', manifest.caseId, ev.evidenceId, upload.fileName));
      for (const entry of await walkUpload(upload.fileName, bytes)) entries.set(entry.path, entry);
    }
    committed.set(ev.evidenceId, entries);
  }
});

const allFiles = () => manifest.evidence.flatMap((ev) => ev.files.map((file) => ({ ev: ev.evidenceId, file })));
const bytesOf = (ev: string, file: SampleFile) => {
  const bytes = committed.get(ev)?.get(file.path)?.bytes;
  if (!bytes) throw new Error(`${file.path} is not in the committed samples`);
  return bytes;
};

function isPlainText(bytes: Buffer): boolean {
  try {
    // eslint-disable-next-line no-control-regex
    return !/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/.test(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return false;
  }
}

async function decodes(bytes: Buffer, mime: string | null): Promise<{ width: number; height: number }> {
  if (mime === 'image/heic') {
    const image = await heicDecode({ buffer: bytes });
    return { width: image.width, height: image.height };
  }
  // failOn 'none': a decoder that tolerates every warning must still fail on the broken samples.
  const { info } = await sharp(bytes, { failOn: 'none' }).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height };
}

/** ISO 6709 '+DD.DDDD+DDD.DDDD[+AAA.AAA]/' to decimal degrees. */
function parseIso6709(text: string): { lat: number; lon: number } {
  const m = /^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)(?:[+-]\d+(?:\.\d+)?)?\/$/.exec(text);
  if (!m) throw new Error(`not ISO 6709: ${text}`);
  return { lat: Number(m[1]), lon: Number(m[2]) };
}

describe('committed samples', () => {
  it('has the uploads the manifest lists, with its digests', async () => {
    for (const ev of manifest.evidence) {
      for (const upload of ev.uploads) {
        const bytes = await readFile(path.join(SAMPLES_DIR, 'extraction', manifest.caseId, ev.evidenceId, upload.fileName));
        expect(digests(bytes)).toEqual({ md5: upload.md5, sha1: upload.sha1, sha256: upload.sha256, size: upload.size });
      }
    }
  });

  it('holds exactly the files and directories the manifest lists, at their depths and times', () => {
    for (const ev of manifest.evidence) {
      const entries = [...committed.get(ev.evidenceId)!.values()];
      const files = entries.filter((e) => e.type === 'file');
      expect(files.map((e) => e.path).sort()).toEqual(ev.files.map((f) => f.path).sort());
      for (const f of ev.files) {
        const entry = committed.get(ev.evidenceId)!.get(f.path)!;
        expect({ path: f.path, sha256: digests(entry.bytes!).sha256, size: entry.bytes!.length, depth: entry.depth }).toEqual({
          path: f.path,
          sha256: f.sha256,
          size: f.size,
          depth: f.expect.depth,
        });
        expect(entry.archiveModified).toEqual(f.expect.archiveModified);
        expect({ path: f.path, deleted: entry.deleted ?? false }).toEqual({ path: f.path, deleted: f.expect.deleted ?? false });
      }
      const dirs = entries.filter((e) => e.type === 'directory').map((e) => ({ path: e.path, depth: e.depth, archiveModified: e.archiveModified }));
      expect(dirs.sort((a, b) => a.path.localeCompare(b.path))).toEqual([...ev.directories].sort((a, b) => a.path.localeCompare(b.path)));
      for (const f of ev.files.filter((x) => x.expect.members)) {
        const inside = entries.filter((e) => e.depth === f.expect.depth + 1 && e.path.startsWith(`${f.path}!/`));
        expect({ files: inside.filter((e) => e.type === 'file').length, directories: inside.filter((e) => e.type === 'directory').length }).toEqual(
          f.expect.members,
        );
      }
    }
  });

  it('covers what the pipeline must handle: devices, hemispheres, nesting, a duplicate, broken files', () => {
    const files = allFiles().map((x) => x.file);
    expect(new Set(files.filter((f) => f.kind === 'image' && f.expect.make).map((f) => `${f.expect.make} ${f.expect.model}`)).size).toBeGreaterThanOrEqual(3);
    expect(files.some((f) => f.expect.gps && f.expect.gps.lat < 0)).toBe(true);
    expect(files.some((f) => f.expect.gps && f.expect.gps.lon < 0)).toBe(true);
    expect(files.some((f) => f.expect.offsetMinutes === null) && files.some((f) => typeof f.expect.offsetMinutes === 'number')).toBe(true);
    expect(Math.max(...files.map((f) => f.expect.depth))).toBe(3);
    const bySha = new Map<string, number>();
    for (const f of files) bySha.set(f.sha256, (bySha.get(f.sha256) ?? 0) + 1);
    expect([...bySha.values()].some((n) => n >= 2)).toBe(true);
    expect(files.map((f) => f.expect.thumbnail)).toEqual(expect.arrayContaining(['image', 'exif-preview', 'contact-sheet', 'none', 'fail']));
    expect(files.filter((f) => f.expect.extMismatch).length).toBe(2);
    // Issue 15: a memory card as E01 (FAT32, one deleted photo) and a raw ext4 volume.
    expect(files.filter((f) => f.expect.disk).map((f) => [f.expect.disk!.format, f.expect.disk!.fileSystem])).toEqual([
      ['ewf', 'fat32'],
      ['raw', 'ext4'],
    ]);
    expect(files.filter((f) => f.expect.deleted).map((f) => [f.kind, f.expect.recovered])).toEqual([['image', true]]);
    // Issue 14: a near-duplicate pair for `similar`, and an edited photo beside an untouched one, both with EXIF previews.
    expect(files.filter((f) => f.expect.nearDuplicateOf).map((f) => [f.path, f.expect.nearDuplicateOf])).toEqual([['IMG-20250610-WA0003.jpg', 'IMG_LOOSE_0001.jpg']]);
    expect(files.filter((f) => f.expect.previewDiffers !== undefined).map((f) => [f.path, f.expect.previewDiffers])).toEqual([
      ['IMG_LOOSE_0002.jpg', false],
      ['IMG_LOOSE_0003.jpg', true],
    ]);
  });

  it('has the content types the manifest states, detected from the bytes', async () => {
    for (const { ev, file } of allFiles()) {
      if (file.expect.disk) {
        // file-type knows no disk image; the EWF signature or the ext superblock magic says what it is.
        const bytes = bytesOf(ev, file);
        const ewf = bytes.subarray(0, 8).equals(Buffer.from('455646090d0aff00', 'hex'));
        expect({ path: file.path, disk: isSampleDiskImage(bytes), mime: ewf ? 'application/x-ewf' : 'application/x-raw-disk-image' }).toEqual({
          path: file.path,
          disk: true,
          mime: file.mime,
        });
        continue;
      }
      const detected = await fileTypeFromBuffer(bytesOf(ev, file));
      // file-type knows signatures only; plain text (strict UTF-8, no control characters) has none.
      const text = detected === undefined && isPlainText(bytesOf(ev, file)) ? 'text/plain' : null;
      expect({ path: file.path, mime: detected?.mime ?? text }).toEqual({ path: file.path, mime: file.mime });
      // file-type names compound types ('tar.gz'), so compare name endings rather than the last extension.
      const aliases: Record<string, string[]> = { jpg: ['jpg', 'jpeg'], 'tar.gz': ['tar.gz', 'tgz'], heic: ['heic', 'heif'] };
      const name = file.path.toLowerCase();
      const mismatch = detected !== undefined && !(aliases[detected.ext] ?? [detected.ext]).some((ext) => name.endsWith(`.${ext}`));
      expect({ path: file.path, mismatch }).toEqual({ path: file.path, mismatch: file.expect.extMismatch });
    }
  });

  it('has the EXIF the manifest states, read back with exifr', async () => {
    const images = allFiles().filter(({ file }) => file.kind === 'image');
    for (const { ev, file } of images) {
      const bytes = bytesOf(ev, file);
      const tags = (await exifr.parse(bytes, { tiff: true, exif: true, gps: true, reviveValues: false, translateValues: false })) as
        | Record<string, unknown>
        | undefined;
      const e = file.expect;
      if (e.takenAtLocal === undefined) {
        expect({ path: file.path, date: tags?.DateTimeOriginal, make: tags?.Make, gps: tags?.GPSLatitude }).toEqual({ path: file.path });
        continue;
      }
      const offset = tags?.OffsetTimeOriginal as string | undefined;
      const offsetMinutes = offset === undefined ? null : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
      const dms = (v: unknown, ref: unknown) => {
        const [d, m, s] = v as number[];
        return (ref === 'S' || ref === 'W' ? -1 : 1) * (d! + m! / 60 + s! / 3600);
      };
      expect({
        path: file.path,
        takenAtLocal: String(tags?.DateTimeOriginal).replace(/^(\d{4}):(\d{2}):(\d{2}) /, '$1-$2-$3T'),
        offsetMinutes,
        make: tags?.Make,
        model: tags?.Model,
        orientation: tags?.Orientation,
      }).toEqual({ path: file.path, takenAtLocal: e.takenAtLocal, offsetMinutes: e.offsetMinutes, make: e.make, model: e.model, orientation: e.orientation });
      expect(dms(tags?.GPSLatitude, tags?.GPSLatitudeRef)).toBeCloseTo(e.gps!.lat, 7);
      expect(dms(tags?.GPSLongitude, tags?.GPSLongitudeRef)).toBeCloseTo(e.gps!.lon, 7);
      if (e.offsetMinutes !== null && e.offsetMinutes !== undefined) {
        expect(Date.parse(`${e.takenAtLocal}Z`) - e.offsetMinutes * 60_000).toBe(Date.parse(e.takenAtUtc!));
      } else {
        expect(e.takenAtUtc).toBeNull();
      }
    }
  });

  it('decodes, falls back to the EXIF preview, or fails, as the thumbnail expectation says', async () => {
    for (const { ev, file } of allFiles().filter(({ file }) => file.kind === 'image')) {
      const bytes = bytesOf(ev, file);
      const decoded = await decodes(bytes, file.mime).catch((err: Error) => err);
      const preview = await exifr.thumbnail(bytes);
      switch (file.expect.thumbnail) {
        case 'image':
          expect({ path: file.path, decoded }).toEqual({ path: file.path, decoded: { width: file.expect.width, height: file.expect.height } });
          break;
        case 'exif-preview': {
          expect(decoded).toBeInstanceOf(Error);
          expect(preview, file.path).toBeDefined();
          const thumb = await decodes(Buffer.from(preview!), 'image/jpeg');
          expect(thumb.width).toBeGreaterThan(0);
          break;
        }
        case 'fail':
          expect(decoded).toBeInstanceOf(Error);
          expect(preview).toBeUndefined();
          expect(file.expect.failure).toBe('decode-failed');
          break;
        default:
          throw new Error(`${file.path}: unexpected thumbnail expectation ${file.expect.thumbnail} for an image`);
      }
    }
  });

  it('keeps an EXIF preview that shows the picture on the untouched photo and not on the edited one; no other decodable photo has one', async () => {
    for (const { ev, file } of allFiles().filter(({ file }) => file.kind === 'image' && file.expect.thumbnail === 'image')) {
      const bytes = bytesOf(ev, file);
      const preview = file.mime === 'image/jpeg' ? await exifr.thumbnail(bytes) : undefined;
      if (file.expect.previewDiffers === undefined) {
        expect({ path: file.path, preview: preview === undefined }).toEqual({ path: file.path, preview: true });
        continue;
      }
      expect(preview, file.path).toBeDefined();
      // Worst mean difference of an 8x8 grid over both pictures squashed to 32x32 (sharp, not the pipeline's comparator).
      const grid = async (image: Buffer) => (await sharp(image).resize(32, 32, { fit: 'fill' }).removeAlpha().raw().toBuffer()) as Buffer;
      const [a, b] = [await grid(Buffer.from(preview!)), await grid(bytes)];
      let worst = 0;
      for (let cy = 0; cy < 8; cy++) {
        for (let cx = 0; cx < 8; cx++) {
          let sum = 0;
          for (let y = cy * 4; y < cy * 4 + 4; y++) for (let x = cx * 4; x < cx * 4 + 4; x++) for (let c = 0; c < 3; c++) sum += Math.abs(a[(y * 32 + x) * 3 + c]! - b[(y * 32 + x) * 3 + c]!);
          worst = Math.max(worst, sum / 48);
        }
      }
      if (file.expect.previewDiffers) expect(worst, file.path).toBeGreaterThan(40);
      else expect(worst, file.path).toBeLessThan(8);
    }
  });

  it('holds a near-duplicate: its original resized and recompressed, with no EXIF', async () => {
    const copies = allFiles().filter(({ file }) => file.expect.nearDuplicateOf);
    expect(copies.length).toBe(1);
    for (const { ev, file } of copies) {
      const original = manifest.evidence.find((e) => e.evidenceId === ev)!.files.find((f) => f.path === file.expect.nearDuplicateOf)!;
      expect(original, file.path).toBeDefined();
      expect(file.sha256).not.toBe(original.sha256);
      expect(file.size).toBeLessThan(original.size);
      const bytes = bytesOf(ev, file);
      expect(await exifr.parse(bytes)).toBeUndefined();
      const copy = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
      expect([copy.info.width, copy.info.height]).toEqual([file.expect.width, file.expect.height]);
      expect(file.expect.width! / original.expect.width!).toBeLessThan(0.7);
      // Same picture: the original brought to the copy's size differs by a few levels on average.
      const scaled = await sharp(bytesOf(ev, original)).resize(copy.info.width, copy.info.height, { fit: 'fill' }).raw().toBuffer();
      let sum = 0;
      for (let i = 0; i < scaled.length; i++) sum += Math.abs(scaled[i]! - copy.data[i]!);
      expect(sum / scaled.length).toBeLessThan(4);
    }
  });

  it('has the video metadata the manifest states, read back with ffprobe', async () => {
    const videos = allFiles().filter(({ file }) => file.kind === 'video');
    expect(videos.length).toBe(3);
    for (const { ev, file } of videos) {
      const probed = await probeVideoBuffer(bytesOf(ev, file), file.mime === 'video/quicktime' ? 'mov' : 'mp4', { ffprobe });
      const t = probed.tags;
      const location = t['com.apple.quicktime.location.ISO6709'] ?? t.location;
      const video = probed.streams.find((s) => s.codec_type === 'video');
      expect({
        path: file.path,
        creation: Date.parse(t.creation_time!),
        gps: parseIso6709(location!),
        make: t['com.apple.quicktime.make'] ?? t['com.android.manufacturer'],
        model: t['com.apple.quicktime.model'] ?? t['com.android.model'],
        size: [video?.width, video?.height],
        codec: video?.codec_name,
      }).toEqual({
        path: file.path,
        // The header holds the wall clock the manifest states (Exhibit shows it as written, no zone).
        creation: Date.parse(`${file.expect.takenAtLocal!}Z`),
        gps: file.expect.gps,
        make: file.expect.make,
        model: file.expect.model,
        size: [file.expect.width, file.expect.height],
        codec: 'h264',
      });
      expect(probed.durationSec).toBeCloseTo(file.expect.durationSec!, 3);
      // A movie header time states no zone (cameras write local time there): none is claimed.
      expect([file.expect.offsetMinutes, file.expect.takenAtUtc]).toEqual([null, null]);
    }
  });
});

describe('committed disk images, read by libewf and The Sleuth Kit', () => {
  const tsk = (command: string, args: string[]) => execFileSync('env', ['TZ=UTC', command, ...args], { maxBuffer: 64 * 1024 * 1024 }).toString('utf8');
  const disks = () => allFiles().filter(({ file }) => file.expect.disk);
  const fileOf = (ev: string, file: SampleFile) => path.join(SAMPLES_DIR, 'extraction', manifest.caseId, ev, file.path);

  it('stores in the E01 the hashes of the card it holds, which ewfverify recomputes', () => {
    const [card] = disks().filter(({ file }) => file.expect.disk!.format === 'ewf');
    const disk = card!.file.expect.disk!;
    const verify = tsk('ewfverify', ['-q', '-d', 'sha1', fileOf(card!.ev, card!.file)]);
    expect(verify).toContain('ewfverify: SUCCESS');
    expect(verify).toMatch(new RegExp(`MD5 hash stored in file:\\s+${disk.media.md5}`));
    expect(verify).toMatch(new RegExp(`SHA1 hash stored in file:\\s+${disk.media.sha1}`));
    const info = tsk('ewfinfo', [fileOf(card!.ev, card!.file)]);
    const field = (name: string) => new RegExp(`${name}:\\s+(.*)`).exec(info)?.[1]?.trim();
    const h = disk.ewfHeader!;
    expect([field('Case number'), field('Evidence number'), field('Description'), field('Examiner name'), field('Notes'), field('Media size')]).toEqual([
      h.caseNumber,
      h.evidenceNumber,
      h.description,
      h.examiner,
      h.notes,
      expect.stringContaining(`(${disk.media.size} bytes)`),
    ]);
    expect(new Date(`${field('Acquisition date')} UTC`).toISOString()).toBe(new Date(h.acquiredAt).toISOString());
  });

  it('has the file system, label and number of entries the manifest states', () => {
    for (const { ev, file } of disks()) {
      const disk = file.expect.disk!;
      const image = fileOf(ev, file);
      expect({ path: file.path, type: tsk('fsstat', ['-t', image]).trim() }).toEqual({ path: file.path, type: disk.fileSystem });
      expect(tsk('fsstat', [image])).toMatch(new RegExp(`^(Volume Label \\(Boot Sector\\)|Volume Name): ${disk.label}\\s*$`, 'm'));
      const entries = committed.get(ev)!;
      const inside = [...entries.values()].filter((e) => e.depth === 1 && e.path.startsWith(`${file.path}!/`));
      expect(inside.length).toBe(disk.entries);
      if (disk.format === 'raw') expect(digests(bytesOf(ev, file))).toEqual(disk.media);
    }
  });

  it('keeps the deleted photo recoverable whole: TSK reads back the bytes the manifest lists', () => {
    const deleted = allFiles().filter(({ file }) => file.expect.deleted);
    expect(deleted.length).toBe(1);
    for (const { ev, file } of deleted) expect(digests(bytesOf(ev, file)).sha256).toBe(file.sha256);
  });
});

describe.skipIf(tools === null)('regeneration (needs ffmpeg and heif-enc)', () => {
  let outDir = '';
  let regenerated: SampleManifest;
  // describe.skipIf still runs this callback while tests are collected, so this must hold
  // when the tools are missing too (it crashed collection once: tools!.versions on null).
  const versionsMatch = (names: string[]) =>
    tools !== null &&
    names.every(
      (name) =>
        tools.versions.find((v) => v.name === name)?.version === manifest.generatedWith.find((v) => v.name === name)?.version,
    );

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'exhibit-samples-'));
    regenerated = await generateSamples(outDir);
  }, 180_000);
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('describes the same case: paths, types, capture times, places, devices, structure', () => {
    const semantic = (m: SampleManifest) =>
      m.evidence.map((ev) => ({
        evidenceId: ev.evidenceId,
        uploads: ev.uploads.map((u) => u.fileName),
        directories: ev.directories,
        files: ev.files.map(({ sha256: _sha, size: _size, ...rest }) => ({
          ...rest,
          expect: { ...rest.expect, durationSec: rest.expect.durationSec === undefined ? undefined : Math.round(rest.expect.durationSec * 10) / 10 },
        })),
      }));
    expect(semantic(regenerated)).toEqual(semantic(manifest));
  });

  // sharp pins its own libvips/mozjpeg build, so these bytes only move when the sharp version does.
  it.runIf(versionsMatch(['sharp', 'libvips']))('reproduces the sharp-made and literal files byte for byte', () => {
    const expected = allFiles().filter(({ file }) => file.reproducible === 'bytes');
    expect(expected.length).toBeGreaterThan(10);
    const actual = new Map(regenerated.evidence.flatMap((ev) => ev.files.map((f) => [`${ev.evidenceId}:${f.path}`, f.sha256] as const)));
    for (const { ev, file } of expected) expect({ path: file.path, sha256: actual.get(`${ev}:${file.path}`) }).toEqual({ path: file.path, sha256: file.sha256 });
  });

  // Found when samples made on another machine with the same tool versions were regenerated
  // here: one MOV came out 13 bytes longer (see cpuModel in samples/lib/tools.ts).
  it.runIf(versionsMatch(['sharp', 'libvips', 'ffmpeg', 'libheif', 'zlib', 'dosfstools', 'mtools', 'e2fsprogs', 'cpu']))('reproduces every file byte for byte with the same tools on the same CPU model', () => {
    expect(regenerated).toEqual(manifest);
  });
});
