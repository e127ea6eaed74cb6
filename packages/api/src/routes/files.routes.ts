import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { FileRecord, SearchQuery } from '@exhibit/core';
import { defineRoute, type ApiDeps, type RouteModule } from '../api.types.js';
import { CASE_READERS, CONTENT_DOWNLOADERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { contentForOccurrence } from '../case-scope.js';
import { API_LIMITS } from '../api-limits.js';
import { notFound } from '../http-errors.js';
import { evidenceHoldsBlob, locateFileBytes } from '../file-bytes.js';
import { buildProvenance } from '../provenance.js';
import { param } from '../query-params.js';
import { downloadSchema, FILE_KINDS, FILE_STAGES, fileDetailSchema, searchResultSchema } from '../response-schemas.js';

const caseId = param.id('Case id');
const fileParams = z.strictObject({ caseId, fileId: param.fileId() });

export const searchQuerySchema = z.strictObject({
  evidenceId: param.id('Only this evidence item').optional(),
  kind: z.enum(FILE_KINDS).optional().describe('File kind from the content signature'),
  mime: z
    .string()
    .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i, 'must be a MIME type')
    .optional()
    .describe('Detected MIME type, e.g. image/jpeg'),
  takenFrom: param.time('Captured at or after (UTC when the offset is known, else as recorded). Capture-time tags only: a file with only a modification time matches no time range').optional(),
  takenTo: param.time('Taken at or before').optional(),
  make: param.text('Camera make (case-insensitive)', 128).optional(),
  model: param.text('Camera model (case-insensitive)', 128).optional(),
  hasGps: param.bool('Only files with (true) or without (false) a usable GPS location; a position recorded as 0,0 or out of range (flag gps-null-island / gps-out-of-range) is not one').optional(),
  bbox: param.bbox().optional(),
  hash: param.hash().optional(),
  path: param.text('Case-insensitive substring of the display path', 1024).optional(),
  extMismatch: param.bool('Only files whose extension does not fit their content').optional(),
  stage: z.enum(FILE_STAGES).optional().describe('Processing stage of the occurrence'),
  sort: z.enum(['path', 'takenAt', 'size', 'name']).optional().describe('Sort key (default path)'),
  order: z.enum(['asc', 'desc']).optional(),
  limit: param.int('Page size, default 50', 1, API_LIMITS.maxPageSize).optional(),
  offset: param.int('Items to skip', 0, API_LIMITS.maxOffset).optional(),
});

/** A file of this case, or the one 404 (also when the id belongs to another case). */
async function loadFile(deps: ApiDeps, caseIdValue: string, fileId: string): Promise<FileRecord> {
  const file = await deps.index.getFile(fileId);
  if (!file || file.caseId !== caseIdValue) throw notFound();
  return file;
}

export const filesRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files',
    operationId: 'searchFiles',
    summary: 'Search the files of a case (every occurrence, archive members included)',
    description: 'Each search is recorded in the custody log of every evidence item it covers.',
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: searchQuerySchema,
    responses: { 200: { description: 'One page of hits with the total', schema: searchResultSchema } },
    async handler({ deps, principal, params, query, abortSignal }) {
      const { path, limit = API_LIMITS.defaultPageSize, offset = 0, ...filters } = query;
      const search: SearchQuery = { ...filters, caseId: params.caseId, limit, offset };
      if (path !== undefined) search.pathText = path;
      const result = await deps.index.search(search);
      const evidence = (await deps.index.listEvidence(params.caseId)).map((e) => e.evidenceId);
      await recordForCase(
        deps,
        principal,
        {
          caseId: params.caseId,
          evidenceIds: query.evidenceId === undefined ? evidence : evidence.filter((e) => e === query.evidenceId),
          action: 'search',
          details: { query, total: result.total, returned: result.items.length },
        },
        abortSignal ? { abortSignal } : {},
      );
      const items = result.items.map((hit) => ({ ...hit, content: contentForOccurrence(hit.file, hit.content) }));
      return { status: 200, body: { total: result.total, limit, offset, items } };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}',
    operationId: 'getFile',
    summary: 'One file: the occurrence, its content analysis and its provenance up to the upload',
    description: "Recorded as a 'view' in the evidence item's custody log.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'The file', schema: fileDetailSchema } },
    async handler({ deps, principal, params, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
      const provenance = await buildProvenance(deps.index, file, content);
      await recordForCase(
        deps,
        principal,
        {
          caseId: file.caseId,
          evidenceIds: [file.evidenceId],
          action: 'view',
          subject: subjectOf(file),
          details: { path: file.path },
        },
        abortSignal ? { abortSignal } : {},
      );
      return { status: 200, body: { file, content: contentForOccurrence(file, content), provenance } };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/thumbnail',
    operationId: 'getThumbnail',
    summary: 'The JPEG thumbnail (or video contact sheet) of a file',
    description: "404 when none was made. Recorded as a 'thumbnail-view'.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'JPEG bytes', contentType: 'image/jpeg' } },
    async handler({ deps, principal, params, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
      if (!content?.thumbnail || content.thumbnailStatus !== 'done') throw notFound();
      const stream: Readable = await deps.blobs.openRead(content.thumbnail, abortSignal ? { abortSignal } : {});
      try {
        await recordForCase(
          deps,
          principal,
          {
            caseId: file.caseId,
            evidenceIds: [file.evidenceId],
            action: 'thumbnail-view',
            subject: subjectOf(file),
            details: { path: file.path, thumbnail: content.thumbnail.name, thumbnailSource: content.thumbnailSource },
          },
          abortSignal ? { abortSignal } : {},
        );
      } catch (err) {
        stream.destroy();
        throw err;
      }
      return {
        status: 200,
        headers: { 'content-type': 'image/jpeg', 'cache-control': 'private, no-store' },
        body: stream,
      };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/download',
    operationId: 'getDownloadUrl',
    summary: "A short-lived, read-only URL for one file's bytes",
    description:
      `Valid for ${API_LIMITS.downloadUrlTtlMs / 60_000} minutes, for one blob only. Examiners and supervisors only. Recorded as a 'download' ` +
      'with the container, blob and range granted. ' +
      'When `range` is null the blob is the file. When it is set, the file is a ZIP member stored uncompressed and read in place: ' +
      'the URL grants the whole blob of the containing archive (the evidence blob of this item, or the stored copy of an archive ' +
      'unpacked from it) and the client must send ' +
      '`Range: bytes={offset}-{offset+length-1}` to get the file; `size` and `sha256` describe the file, i.e. the ranged bytes ' +
      '(a `length` of 0 is an empty file: there is nothing to fetch).',
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'URL, expiry, and the byte range of the file within the blob', schema: downloadSchema } },
    async handler({ deps, principal, params, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
      const bytes = locateFileBytes(file, content);
      if (!bytes) throw notFound();
      // A span from the content row may lie in another case's archive: grant it only if this evidence item holds that archive.
      if (bytes.range && bytes.from === 'content' && !(await evidenceHoldsBlob(deps.index, file, bytes.blob))) throw notFound();
      const now = deps.now?.() ?? new Date();
      // A SAS cannot be narrowed to a byte range: for a member read in place it
      // grants the evidence archive, which this caller (an examiner or supervisor
      // on the case) may download anyway. The custody entry says so exactly.
      const url = await deps.blobs.readUrl(bytes.blob, { expiresInMs: API_LIMITS.downloadUrlTtlMs });
      const expiresAt = new Date(now.getTime() + API_LIMITS.downloadUrlTtlMs).toISOString();
      await recordForCase(
        deps,
        principal,
        {
          caseId: file.caseId,
          evidenceIds: [file.evidenceId],
          action: 'download',
          subject: subjectOf(file),
          // The URL is a bearer secret: record what it grants, never the URL.
          details: { path: file.path, container: bytes.blob.container, blobName: bytes.blob.name, range: bytes.range, expiresAt },
        },
        abortSignal ? { abortSignal } : {},
      );
      return {
        status: 200,
        headers: { 'cache-control': 'no-store' },
        body: {
          url,
          expiresAt,
          fileName: file.name,
          size: file.size,
          sha256: file.sha256,
          range: bytes.range,
        } satisfies z.input<typeof downloadSchema>,
      };
    },
  }),
];

function subjectOf(file: FileRecord): { fileId: string; sha256?: string; blobName?: string } {
  const subject: { fileId: string; sha256?: string; blobName?: string } = { fileId: file.fileId };
  if (file.sha256) subject.sha256 = file.sha256;
  // A member read in place shares its blob with the whole archive: naming that
  // blob next to the member's sha256 would read as the blob's hash.
  if (file.source && file.source.offset == null) subject.blobName = file.source.name;
  return subject;
}
