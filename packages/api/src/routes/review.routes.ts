import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ExhibitError, type SearchResult } from '@exhibit/core';
import { defineRoute, type ApiDeps, type RouteModule } from '../api.types.js';
import { ACCESS_AUDITORS, CASE_READERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { API_LIMITS } from '../api-limits.js';
import { notFound } from '../http-errors.js';
import { param } from '../query-params.js';
import { readAuditOf } from '../read-audit.js';
import { reviewOf } from '../review-deps.js';
import { FILTER_SHAPE, filterOf, toFilter } from '../review-filter.js';
import { fileCustodySchema, mapResultSchema, timelineResultSchema } from '../response-schemas.js';

const caseId = param.id('Case id');

/**
 * Grid cell size of the map: at zoom z a 256-pixel tile spans 360/2^z
 * degrees of longitude; a cell of a quarter tile (about 64 pixels) keeps
 * markers apart without hiding places. Without a zoom, a box is cut into
 * about 32 cells along its larger side.
 */
export function cellSizeDeg(zoom: number | undefined, bbox: [number, number, number, number] | undefined): number {
  if (zoom !== undefined) return 360 / 2 ** zoom / 4;
  if (bbox) {
    const [minLon, minLat, maxLon, maxLat] = bbox;
    const side = Math.max(maxLon - minLon, maxLat - minLat);
    // A point-sized box still has cells: never below the finest zoom's.
    return Math.min(90, Math.max(side / 32, 360 / 2 ** API_LIMITS.mapMaxZoom / 4));
  }
  return 90;
}

/** An immutable thumbnail answers If-None-Match with 304 and no body (nothing delivered, nothing recorded). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag || t.trim() === '*');
}

/**
 * The evidence items of the case that hold a content, for its custody entries: from the page of
 * hits when it has every occurrence, else asked of the index in one statement, since a content can
 * occur thousands of times (an app icon in a phone's extraction) and the page holds only the first paths.
 */
async function itemsHolding(deps: ApiDeps, caseIdValue: string, sha256: string, hits: SearchResult): Promise<string[]> {
  const held = new Set(hits.items.map((h) => h.file.evidenceId));
  if (hits.items.length < hits.total) for (const evidenceId of await deps.index.evidenceIdsHolding(caseIdValue, sha256)) held.add(evidenceId);
  return [...held].sort();
}

/** Most entries the file custody view returns (per subject: the occurrence, and its content). */
const FILE_CUSTODY_LIMIT = 500;

export const reviewRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/custody',
    operationId: 'getFileCustody',
    summary: "This file's custody entries, oldest first: about the occurrence and about its content in this case",
    description:
      `From the index copy of the logs (verification reads the logs themselves), at most ${FILE_CUSTODY_LIMIT} per subject. Everyone on the case sees ` +
      "what the pipeline recorded (actor service:…) and the tag changes (tags are shared on the case); who viewed or downloaded it is for " +
      "supervisors (GET …/access-events), so for other roles those entries are left out and counted in `omitted`. Recorded as a 'read' " +
      '(route getFileCustody), rate-limited.',
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId, fileId: param.fileId() }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Entries in time order', schema: fileCustodySchema } },
    async handler({ deps, principal, params, caseAccess, logger, abortSignal }) {
      const file = await deps.index.getFile(params.fileId);
      if (!file || file.caseId !== params.caseId) throw notFound();
      const audit = deps.extensions?.custodyAudit;
      if (!audit) throw new ExhibitError('tool-unavailable', 'custody is not configured');
      const about = await audit.entries({ caseId: params.caseId, fileId: file.fileId, limit: FILE_CUSTODY_LIMIT });
      const aboutContent = file.sha256 ? await audit.entries({ caseId: params.caseId, sha256: file.sha256, limit: FILE_CUSTODY_LIMIT }) : [];
      const seen = new Set<string>();
      const all = [...about, ...aboutContent]
        .filter((e) => {
          const k = `${e.evidenceId}/${e.seq}`;
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        })
        .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.evidenceId < b.evidenceId ? -1 : a.evidenceId > b.evidenceId ? 1 : a.seq - b.seq));
      const auditor = (caseAccess?.roles ?? []).some((r) => ACCESS_AUDITORS.includes(r));
      const shown = auditor ? all : all.filter((e) => e.actor.startsWith('service:') || e.action === 'bookmark');
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, evidenceId: file.evidenceId, route: 'getFileCustody', details: { fileId: file.fileId, entries: shown.length } },
        { logger },
      );
      const entries = shown.map((e) => ({
        evidenceId: e.evidenceId,
        seq: e.seq,
        time: e.time,
        actor: e.actor,
        action: e.action,
        subject: e.subject,
        details: e.details,
        tools: e.tools,
        entryHash: e.entryHash,
      }));
      return { status: 200, headers: { 'cache-control': 'no-store' }, body: { fileId: file.fileId, sha256: file.sha256, entries, omitted: all.length - shown.length } satisfies z.input<typeof fileCustodySchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/map',
    operationId: 'mapFiles',
    summary: 'GPS-tagged files of the current filter, clustered on a grid in SQL',
    description:
      `Cell size: 360 / 2^zoom / 4 degrees with \`zoom\`; else the larger side of \`bbox\` / 32; else 90°. At most ${API_LIMITS.mapMaxClusters} cells ` +
      "(the fullest; `truncated` says so). Takes the search filter. Recorded as a 'read' (route mapFiles), rate-limited like status reads.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({ ...FILTER_SHAPE, zoom: param.int('Map zoom level', 0, API_LIMITS.mapMaxZoom).optional() }),
    responses: { 200: { description: 'Clusters of the files with a usable GPS position', schema: mapResultSchema } },
    async handler({ deps, principal, params, query, logger, abortSignal }) {
      const { zoom, ...filterQuery } = query;
      const filter = toFilter(params.caseId, filterQuery);
      const cellDeg = cellSizeDeg(zoom, filter.bbox);
      const result = await reviewOf(deps).mapClusters({ ...filter, cellDeg, maxClusters: API_LIMITS.mapMaxClusters });
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'mapFiles', details: { filter: filterOf(filterQuery), zoom: zoom ?? null, total: result.total } },
        { logger },
      );
      return { status: 200, headers: { 'cache-control': 'private, no-store' }, body: { caseId: params.caseId, ...result } satisfies z.input<typeof mapResultSchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/timeline',
    operationId: 'timelineFiles',
    summary: 'Capture times of the current filter as recorded, in buckets counted in SQL',
    description:
      'Buckets of the recorded wall clock (never shifted by an offset); each counts files with and without a recorded offset separately. ' +
      `Without \`bucket\` the smallest size giving at most ${API_LIMITS.timelineMaxBuckets} buckets is chosen. A brush from one bucket's start to another's end ` +
      "selects exactly those files with takenLocalFrom/takenLocalTo. Recorded as a 'read' (route timelineFiles), rate-limited.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({
      ...FILTER_SHAPE,
      bucket: z.enum(['minute', 'hour', 'day', 'week', 'month', 'year']).optional().describe('Bucket size (default: chosen from the range)'),
    }),
    responses: { 200: { description: 'Non-empty buckets in time order', schema: timelineResultSchema } },
    async handler({ deps, principal, params, query, logger, abortSignal }) {
      const { bucket, ...filterQuery } = query;
      const filter = toFilter(params.caseId, filterQuery);
      const result = await reviewOf(deps).timeline({ ...filter, ...(bucket ? { bucket } : {}), maxBuckets: API_LIMITS.timelineMaxBuckets });
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'timelineFiles', details: { filter: filterOf(filterQuery), bucket: result.bucket, total: result.total } },
        { logger },
      );
      return { status: 200, headers: { 'cache-control': 'private, no-store' }, body: { caseId: params.caseId, ...result } satisfies z.input<typeof timelineResultSchema> };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/contents/{sha256}/thumbnail',
    operationId: 'getContentThumbnail',
    summary: 'The thumbnail of a content, by its SHA-256: cacheable for ever',
    description:
      'The thumbnail of a content is made once and never replaced, so this URL (which names the content) answers with ' +
      '`Cache-Control: private, max-age=31536000, immutable` and `ETag: "<sha256>"`; If-None-Match gives 304. 404 unless the case holds a file ' +
      "with this content and a thumbnail was made. Recorded as a 'thumbnail-view' (subject sha256) in the log of every evidence item of the case holding it; " +
      "a 304 delivers nothing but says the case holds the content, and is recorded as a 'read' (route getContentThumbnail, notModified), rate-limited.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId, sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in lower-case hex').describe('SHA-256 of the content') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'JPEG bytes', contentType: 'image/jpeg' }, 304: { description: 'Not modified (the caller holds it)' } },
    async handler({ deps, principal, params, requestHeaders, logger, abortSignal }) {
      const hits = await deps.index.search({ caseId: params.caseId, hash: params.sha256, limit: API_LIMITS.maxPageSize });
      const content = hits.items[0]?.content;
      if (hits.total === 0 || !content?.thumbnail || content.thumbnailStatus !== 'done') throw notFound();
      const etag = `"${params.sha256}"`;
      const caching = { 'cache-control': 'private, max-age=31536000, immutable', etag };
      const evidenceIds = await itemsHolding(deps, params.caseId, params.sha256, hits);
      if (matchesEtag(requestHeaders?.['if-none-match'], etag)) {
        // Nothing delivered, but the answer says the case holds this content with a thumbnail (the
        // ETag is the SHA-256 itself, and `*` matches any): a read, like a search by hash.
        await readAuditOf(deps).record(
          principal,
          {
            caseId: params.caseId,
            route: 'getContentThumbnail',
            caseEvidenceIds: evidenceIds,
            subjectKey: params.sha256,
            details: { sha256: params.sha256, notModified: true },
          },
          { logger },
        );
        return { status: 304, headers: caching };
      }
      const stream: Readable = await deps.blobs.openRead(content.thumbnail, abortSignal ? { abortSignal } : {});
      try {
        await recordForCase(
          deps,
          principal,
          {
            caseId: params.caseId,
            evidenceIds,
            action: 'thumbnail-view',
            subject: { sha256: params.sha256 },
            details: { thumbnail: content.thumbnail.name, thumbnailSource: content.thumbnailSource, occurrences: hits.total, route: 'getContentThumbnail' },
          },
        );
      } catch (err) {
        stream.destroy();
        throw err;
      }
      return { status: 200, headers: { 'content-type': 'image/jpeg', ...caching }, body: stream };
    },
  }),
];
