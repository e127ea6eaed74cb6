import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { derivedNames, LIMITS, type BlobStore } from '@exhibit/core';
import type { SqlClient } from '@exhibit/index';
import { MEDIA_LIMITS } from '@exhibit/media';
import { createAzureBlobStore } from '@exhibit/storage';
import { imageThumbnail } from '../../packages/media/src/thumbnail/image.thumbnail.js';
import { frameFor, paintCameraPhoto } from './camera-photo.painter.js';

/**
 * Real thumbnails for a case seeded by SQL (web-api.bench.ts): a handful of
 * camera-like photos of different content go through the pipeline's own image
 * thumbnailer (same recipe, so the same sizes and bytes a real ingest makes),
 * and every content of the case gets one of them stored under its own
 * content-addressed name (derivedNames.thumbnail) through the storage adapter,
 * with the blob metadata the analyse stage writes. Only then are the contents'
 * thumbnail records set, to exactly the blobs that were stored: the watchdog
 * samples those records and would re-drive any whose blob is missing.
 */
export interface ThumbnailSeedFigures {
  contents: number;
  distinctImages: number;
  meanBytes: number;
  uploadMs: number;
  recordMs: number;
  parallel: number;
}

const RECIPE = `t${LIMITS.thumbnailEdgePx}q${MEDIA_LIMITS.thumbnailJpegQuality}`;

/** Distinct source photos (gradients, waves, texture and noise from different seeds), thumbnailed as the pipeline would. */
async function sampleThumbnails(count: number): Promise<Buffer[]> {
  const settings = { edgePx: LIMITS.thumbnailEdgePx, quality: MEDIA_LIMITS.thumbnailJpegQuality, maxPixels: LIMITS.maxImagePixels };
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    // Landscape and portrait, as a camera roll mixes them.
    const { width, height } = frameFor(1 + (i % 3));
    const painted = paintCameraPhoto(4200 + i, i % 4 === 3 ? height : width, i % 4 === 3 ? width : height);
    const photo = await sharp(painted.data, { raw: { width: painted.width, height: painted.height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
    out.push((await imageThumbnail(photo, settings, 'image/jpeg')).jpeg);
  }
  return out;
}

/** Runs `work` over `items` with at most `parallel` at once. */
async function eachParallel<T>(items: readonly T[], parallel: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

export async function seedThumbnailBlobs(options: {
  sql: SqlClient;
  storageConnectionString: string;
  caseId: string;
  derivedContainer?: string;
  /** How many distinct pictures the thumbnails cycle through. */
  distinctImages?: number;
  parallel?: number;
  /**
   * Which files, as [from, to) positions in the gallery's default (path) order; all when absent.
   * Storing one blob per content into Azurite runs at some hundred a second here, so a run at
   * 100,000 files seeds what the measured gallery can show rather than every file.
   */
  positions?: Array<[number, number]>;
}): Promise<ThumbnailSeedFigures> {
  const container = options.derivedContainer ?? 'derived';
  const parallel = options.parallel ?? 32;
  const images = await sampleThumbnails(options.distinctImages ?? 8);
  const blobs: BlobStore = createAzureBlobStore({ connectionString: options.storageConnectionString });
  await blobs.ensureContainer(container);
  // Positions in the gallery's default order (path, as the index's search sorts it: index-store.search.ts).
  const ranges = options.positions ?? [[0, Number.MAX_SAFE_INTEGER]];
  const { rows } = await options.sql.query<{ sha256: string }>(
    `SELECT DISTINCT p.sha256 FROM (
        SELECT f.sha256, row_number() OVER (ORDER BY lower(f.path) COLLATE "C", f.path COLLATE "C", f.file_id) - 1 AS pos
          FROM files f WHERE f.case_id = $1) p
       JOIN contents c ON c.sha256 = p.sha256
      WHERE c.kind = 'image' AND EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::bigint[]) AS r(lo, hi) WHERE p.pos >= r.lo AND p.pos < r.hi)
      ORDER BY p.sha256`,
    [options.caseId, ranges.map((r) => r[0]), ranges.map((r) => r[1])],
  );
  const shas = rows.map((r) => r.sha256);
  const tools = [{ name: 'sharp', version: sharp.versions.sharp }, { name: 'libvips', version: sharp.versions.vips }, { name: 'exhibit-bench-seed', version: RECIPE }];
  const toolsText = tools.map((t) => `${t.name}@${t.version}`).join(',');
  let bytes = 0;
  const uploadStart = performance.now();
  await eachParallel(shas, parallel, async (sha256, i) => {
    const jpeg = images[i % images.length]!;
    bytes += jpeg.length;
    // As the analyse stage stores a thumbnail (thumbnail.step.ts): content-addressed, first copy kept.
    await blobs.upload({ container, name: derivedNames.thumbnail(sha256, RECIPE) }, jpeg, {
      contentType: 'image/jpeg',
      ifNotExists: true,
      metadata: { source_sha256: sha256, derived_from: 'image', tools: toolsText },
    });
  });
  const uploadMs = performance.now() - uploadStart;
  const recordStart = performance.now();
  // What setThumbnail writes for a 'done' image thumbnail, in one statement per chunk instead of one per content.
  for (let i = 0; i < shas.length; i += 10_000) {
    const chunk = shas.slice(i, i + 10_000);
    await options.sql.query(
      `UPDATE contents c SET thumbnail_status = 'done', thumbnail_container = $3, thumbnail_name = t.name, thumbnail_source = 'image',
              tools = c.tools || jsonb_build_object('thumbnail', $4::jsonb), updated_at = now()
         FROM unnest($1::text[], $2::text[]) AS t(sha256, name)
        WHERE c.sha256 = t.sha256`,
      [chunk, chunk.map((s) => derivedNames.thumbnail(s, RECIPE)), container, JSON.stringify(tools)],
    );
  }
  return { contents: shas.length, distinctImages: images.length, meanBytes: shas.length ? bytes / shas.length : 0, uploadMs, recordMs: performance.now() - recordStart, parallel };
}
