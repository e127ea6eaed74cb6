import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import yauzl from 'yauzl';
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaMetadata } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { valueCases, type ValueCase } from '../test-support/value-cases.js';
import { readImageMetadata } from './exif.metadata.js';
import { escapeUnprintable } from './recorded-text.js';

/**
 * Our metadata against exiftool (Debian libimage-exiftool-perl), an
 * independent reader: make, model, capture time, GPS as recorded and the real
 * pixel size must agree on every crafted regression file and on every image
 * of the bundled sample case. Skipped, with the reason, where exiftool is not
 * installed.
 */

const exiftoolVersion = (() => {
  const run = spawnSync('exiftool', ['-ver'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : null;
})();

type Fields = { make?: string; model?: string; taken?: string; lat?: number; lon?: number; width?: number; height?: number };
const FIELDS = ['make', 'model', 'taken', 'lat', 'lon', 'width', 'height'] as const;

function ours(m: MediaMetadata): Fields {
  const point = m.gps ?? m.gpsRecorded;
  return {
    ...(m.make !== undefined ? { make: m.make } : {}),
    ...(m.model !== undefined ? { model: m.model } : {}),
    // exiftool prints seconds; the fraction is compared through SubSecTime, not here.
    ...(m.takenAt ? { taken: m.takenAt.local.slice(0, 19) } : {}),
    ...(typeof point?.lat === 'number' ? { lat: point.lat } : {}),
    ...(typeof point?.lon === 'number' ? { lon: point.lon } : {}),
    ...(m.width !== undefined ? { width: m.width, height: m.height } : {}),
  };
}

/** exiftool's own reading, with the same precedence for the capture time (EXIF, then XMP). */
function theirs(j: Record<string, unknown>): Fields {
  const str = (k: string) => (typeof j[k] === 'string' || typeof j[k] === 'number' ? String(j[k]) : undefined);
  const num = (k: string) => (typeof j[k] === 'number' && Number.isFinite(j[k]) ? (j[k] as number) : undefined);
  const taken = ['EXIF:DateTimeOriginal', 'EXIF:CreateDate', 'XMP:DateTimeOriginal', 'XMP:DateCreated', 'Composite:DateTimeCreated', 'XMP:DateTimeDigitized', 'XMP:CreateDate', 'Composite:DigitalCreationDateTime', 'QuickTime:CreationDate']
    .map(str)
    .find((v) => v !== undefined && /^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}/.test(v));
  // Pixel size from the image's own header: File (JPEG SOF, HEIF ispe), PNG, GIF, RIFF (WebP); EXIF only for a TIFF's IFD0.
  const isTiff = j['File:FileType'] === 'TIFF';
  const sizeGroup = isTiff ? ['EXIF'] : ['File', 'PNG', 'GIF', 'RIFF'];
  const width = sizeGroup.map((g) => num(`${g}:ImageWidth`)).find((v) => v !== undefined);
  const height = sizeGroup.map((g) => num(`${g}:ImageHeight`)).find((v) => v !== undefined);
  // exiftool prints control bytes as they are; we show them as \xNN. Same bytes, same escaping.
  const text = (k: string) => {
    const v = str(k);
    return v === undefined ? undefined : escapeUnprintable(v).text;
  };
  const make = text('EXIF:Make');
  const model = text('EXIF:Model');
  const lat = num('Composite:GPSLatitude');
  const lon = num('Composite:GPSLongitude');
  return {
    ...(make !== undefined ? { make } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(taken !== undefined ? { taken: `${taken.slice(0, 10).replace(/:/g, '-')}T${taken.slice(11, 19)}` } : {}),
    ...(lat !== undefined ? { lat } : {}),
    ...(lon !== undefined ? { lon } : {}),
    ...(width !== undefined && height !== undefined ? { width, height } : {}),
  };
}

const same = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) < 1e-6 : a === b);

interface Comparison {
  agreed: Record<(typeof FIELDS)[number], number>;
  compared: Record<(typeof FIELDS)[number], number>;
  disagreements: string[];
}

async function compare(cases: ValueCase[], dir: string): Promise<Comparison> {
  const paths = cases.map((c, i) => {
    const path = join(dir, `${String(i).padStart(3, '0')}-${c.name.replace(/[^\w.-]/g, '_')}`);
    writeFileSync(path, c.bytes);
    return path;
  });
  const out = execFileSync('exiftool', ['-j', '-n', '-G', '-charset', 'exif=utf8', ...paths], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const byFile = new Map((JSON.parse(out) as Array<Record<string, unknown>>).map((j) => [String(j.SourceFile), j]));
  const zero = () => Object.fromEntries(FIELDS.map((f) => [f, 0])) as Comparison['agreed'];
  const result: Comparison = { agreed: zero(), compared: zero(), disagreements: [] };
  for (const [i, c] of cases.entries()) {
    const a = ours(await readImageMetadata(new BufferSource(c.bytes, c.name)));
    const b = theirs(byFile.get(paths[i]!) ?? {});
    for (const f of FIELDS) {
      if (a[f] === undefined && b[f] === undefined) continue;
      result.compared[f]++;
      if (same(a[f], b[f])) result.agreed[f]++;
      else result.disagreements.push(`${c.name} ${f}: ours ${JSON.stringify(a[f])}, exiftool ${JSON.stringify(b[f])}`);
    }
  }
  return result;
}

/** Every image in the sample case: the loose JPEG, the phone extraction's members and its nested tar.gz. */
async function sampleImages(): Promise<ValueCase[]> {
  const root = new URL('../../../../samples/extraction/DEMO-2026-001/', import.meta.url);
  const images: ValueCase[] = [{ name: 'EX02/IMG_LOOSE_0001.jpg', bytes: readFileSync(new URL('EX02/IMG_LOOSE_0001.jpg', root)) }];
  const isImage = (name: string) => /\.(jpe?g|heic|png|gif|webp|tiff?)$/i.test(name);
  const zipEntries = async (bytes: Buffer, prefix: string): Promise<ValueCase[]> => {
    const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(bytes, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))));
    const found: ValueCase[] = [];
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        if (!isImage(entry.fileName) && !/\.tar\.gz$/.test(entry.fileName)) return zip.readEntry();
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(err);
          const parts: Buffer[] = [];
          stream.on('data', (d: Buffer) => parts.push(d));
          stream.on('end', () => {
            found.push({ name: `${prefix}${entry.fileName}`, bytes: Buffer.concat(parts) });
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', resolve);
      zip.on('error', reject);
      zip.readEntry();
    });
    const out: ValueCase[] = [];
    for (const f of found) {
      if (!/\.tar\.gz$/.test(f.name)) {
        out.push(f);
        continue;
      }
      const extract = tar.extract();
      const members: ValueCase[] = [];
      extract.on('entry', (header, stream, next) => {
        const parts: Buffer[] = [];
        stream.on('data', (d: unknown) => parts.push(d as Buffer));
        stream.on('end', () => {
          if (isImage(header.name)) members.push({ name: `${f.name}!/${header.name}`, bytes: Buffer.concat(parts) });
          next();
        });
      });
      await new Promise<void>((resolve, reject) => {
        extract.on('finish', resolve);
        extract.on('error', reject);
        extract.end(gunzipSync(f.bytes));
      });
      out.push(...members);
    }
    return out;
  };
  images.push(...(await zipEntries(readFileSync(new URL('EX01/phone-extraction.zip', root)), 'EX01/phone-extraction.zip!/')));
  return images;
}

describe('agreement with exiftool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-exiftool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(exiftoolVersion === null)('crafted regression files: make, model, capture time, GPS and pixel size agree 100 %', async () => {
    const cases = await valueCases();
    const result = await compare(cases, dir);
    console.info(`exiftool ${exiftoolVersion}, ${cases.length} crafted files: agreed/compared`, Object.fromEntries(FIELDS.map((f) => [f, `${result.agreed[f]}/${result.compared[f]}`])));
    expect(result.disagreements).toEqual([]);
    // The comparison really covered each field.
    for (const f of FIELDS) expect(result.compared[f]).toBeGreaterThan(0);
  });

  it.skipIf(exiftoolVersion === null)('the sample case: every image agrees', async () => {
    const images = await sampleImages();
    expect(images.length).toBeGreaterThanOrEqual(10);
    // Images exifr cannot open at all (the corrupt sample) fail as a whole, so they are compared only if read.
    const readable: ValueCase[] = [];
    for (const image of images) {
      const ok = await readImageMetadata(new BufferSource(image.bytes, image.name)).then(() => true, () => false);
      if (ok) readable.push(image);
    }
    const result = await compare(readable, dir);
    console.info(`exiftool ${exiftoolVersion}, ${readable.length} of ${images.length} sample images read: agreed/compared`, Object.fromEntries(FIELDS.map((f) => [f, `${result.agreed[f]}/${result.compared[f]}`])));
    expect(result.disagreements).toEqual([]);
  });

  if (exiftoolVersion === null) it.skip('exiftool is not installed (Debian: libimage-exiftool-perl); agreement not checked', () => {});
});
