import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ExhibitError, type BlobRef, type CustodyAction, type FileRecord, type Logger, type PdqFrameHash, type SearchQuery, type SimilarContent, type SimilarResult } from '@exhibit/core';
import { defineRoute, type ApiDeps, type ApiResponse, type Principal, type RouteModule } from '../api.types.js';
import { CASE_READERS, CONTENT_DOWNLOADERS } from '../access-policy.js';
import { assignmentsOf, recordForCase } from '../access-events.js';
import { contentForOccurrence } from '../case-scope.js';
import { API_LIMITS } from '../api-limits.js';
import { notFound } from '../http-errors.js';
import { evidenceHoldsBlob, locateFileBytes, type FileBytes } from '../file-bytes.js';
import { contentDisposition, readCheckedFilePart, readVerifiedWhole, VERIFY_BEFORE_SEND_BYTES, type PinnedVerification } from '../file-delivery.js';
import { decideRange, etagOf } from '../byte-range.js';
import { readAuditOf } from '../read-audit.js';
import { verifiedSpansOf } from '../verified-spans.js';
import { PLAYBACK_SAFETY_HEADERS, playbackOf, type PlaybackRefusal } from '../media-playback.js';
import { issueDownloadTicket } from '../download-tickets.js';
import { buildProvenance } from '../provenance.js';
import { param } from '../query-params.js';
import { FILTER_SHAPE, toFilter } from '../review-filter.js';
import { decodeSearchCursor, encodeSearchCursor, type CursorProblem } from '../search-cursor.js';
import { downloadSchema, fileDetailSchema, playbackLinkSchema, searchResultSchema, similarResultSchema } from '../response-schemas.js';

const caseId = param.id('Case id');
const fileParams = z.strictObject({ caseId, fileId: param.fileId() });

export const searchQuerySchema = z.strictObject({
  ...FILTER_SHAPE,
  sort: z
    .enum(['path', 'takenAt', 'size', 'name', 'sha256', 'mime', 'added'])
    .optional()
    .describe('Sort key (default path); sha256 puts identical content side by side, added is when the file was recorded'),
  order: z.enum(['asc', 'desc']).optional(),
  limit: param.int('Page size, default 50', 1, API_LIMITS.maxPageSize).optional(),
  offset: param.int('Items to skip (slow when deep: page by cursor instead)', 0, API_LIMITS.maxOffset).optional(),
  cursor: z
    .string()
    .min(1)
    .max(API_LIMITS.maxCursorChars)
    .optional()
    .describe("A page's nextCursor: the page after it, as fast however deep (keyset). Same filter, sort and order, no offset; a cursor altered or made for another search is a 400 with details.cursor saying why"),
});

/**
 * The bytes of a file of this case, with what they must hash to; 404 when
 * there are none to give. A span taken from the content row may lie in
 * another case's archive: it is used only if this evidence item holds that
 * archive.
 */
async function fileBytesOf(deps: ApiDeps, file: FileRecord): Promise<FileBytes> {
  const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
  const bytes = locateFileBytes(file, content);
  if (!bytes) throw notFound();
  if (bytes.range && bytes.from === 'content' && !(await evidenceHoldsBlob(deps.index, file, bytes.blob))) throw notFound();
  return bytes;
}

/** What the bytes must be: the recorded size and SHA-256 (of the file, i.e. of the span for a member). */
function expectedOf(file: FileRecord, bytes: FileBytes): { length: number; sha256: string } {
  const length = bytes.range ? bytes.range.length : file.size;
  if (!file.sha256 || length === null || length === undefined) {
    throw new ExhibitError('conflict', 'this file has not been hashed yet; try again when its processing has moved on');
  }
  return { length, sha256: file.sha256 };
}

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
      const { sort, order, limit = API_LIMITS.defaultPageSize, offset = 0, cursor, ...filters } = query;
      const search: SearchQuery = { ...toFilter(params.caseId, filters), limit, offset, countCap: API_LIMITS.searchCountCap };
      if (sort !== undefined) search.sort = sort;
      if (order !== undefined) search.order = order;
      if (cursor !== undefined) {
        if (offset !== 0) throw new ExhibitError('invalid-argument', 'cursor: give a cursor or an offset, not both', { details: { cursor: 'with-offset' satisfies CursorProblem } });
        search.after = decodeSearchCursor(search, cursor);
      }
      const result = await deps.index.search(search).catch((error: unknown) => {
        // A cursor naming its row alone, and that file is no longer in the case.
        if (error instanceof ExhibitError && error.details?.['after'] === 'position-gone') {
          throw new ExhibitError('invalid-argument', `cursor: ${error.message.replace(/^after: /, '')}`, { details: { cursor: 'position-gone' satisfies CursorProblem } });
        }
        throw error;
      });
      const evidence = (await deps.index.listEvidence(params.caseId)).map((e) => e.evidenceId);
      await recordForCase(
        deps,
        principal,
        {
          caseId: params.caseId,
          evidenceIds: query.evidenceId === undefined ? evidence : evidence.filter((e) => e === query.evidenceId),
          action: 'search',
          details: { query, total: result.total, totalIsLowerBound: result.totalIsLowerBound, returned: result.items.length },
        },
      );
      const items = result.items.map((hit) => ({ ...hit, content: contentForOccurrence(hit.file, hit.content) }));
      const nextCursor = result.next ? encodeSearchCursor(search, result.next) : null;
      return { status: 200, body: { total: result.total, totalIsLowerBound: result.totalIsLowerBound, limit, offset, nextCursor, items } };
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
      const built = await buildProvenance(deps.index, file, content);
      const provenance = built.upload
        ? { ...built, upload: { ...built.upload, uploadedBy: (await deps.access.getUploadRegistration(built.upload.blobName))?.uploadedBy ?? null } }
        : built;
      const knownFileMatches = file.sha256 ? await deps.index.knownFileMatches(file.fileId) : [];
      await recordForFile(deps, principal, file, 'view', { path: file.path });
      return { status: 200, body: { file, content: contentForOccurrence(file, content), knownFileMatches, provenance } };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/similar',
    operationId: 'similarFiles',
    summary: "Files whose picture is within a PDQ distance of this file's (near-duplicates: resized, recompressed)",
    description:
      "scope=case searches this case; scope=assigned every case the caller is assigned to with a role that may read it, never others " +
      "(an admin's unassigned view of a case does not count). A match is a lead for a person to look at, not proof (docs/pdq.md). " +
      "A file without a PDQ hash answers with hash null and no items. Recorded as a 'search': in every evidence item's log of this case; in another case searched, in the log of each evidence item a shown file is in, or once (its first evidence item, recordedFor 'case') when nothing of it was shown.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({
      maxDistance: param.int('Largest Hamming distance of 256 bits, default 31 (likely the same picture)', 0, 256).optional(),
      scope: z.enum(['case', 'assigned']).optional().describe('case (default) or every case the caller is assigned to'),
      limit: param.int('Contents returned at most, default 100', 1, 1000).optional(),
    }),
    responses: { 200: { description: 'Similar contents, nearest first, with their files in the cases searched', schema: similarResultSchema } },
    async handler({ deps, principal, params, query, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const maxDistance = query.maxDistance ?? 31;
      const scope = query.scope ?? 'case';
      const caseIds = [params.caseId];
      if (scope === 'assigned') {
        for (const a of await assignmentsOf(deps, principal)) {
          const roles = principal.roles.filter((r) => a.role === null || r === a.role);
          if (a.caseId !== params.caseId && roles.some((r) => CASE_READERS.includes(r))) caseIds.push(a.caseId);
        }
      }
      const frames = file.sha256 ? await deps.index.getPdq(file.sha256) : [];
      // The kind says whether frame 0 is a picture or a video's contact-sheet frame (its time may be unknown).
      const kind = file.sha256 ? ((await deps.index.getContent(file.sha256))?.kind ?? null) : null;
      const own = frames.find((p) => p.frame === 0) ?? frames[0];
      const result = frames.length > 0 ? await similarToFrames(deps, frames, { caseIds, maxDistance, ...(query.limit !== undefined ? { limit: query.limit } : {}) }) : null;
      const items = result?.items ?? [];
      // Custody: every case searched, shown files or not. The answer is drawn from all of them: an
      // item is there because its content is in one of them (its files listed may all be another
      // case's), and 'nothing near in case X' is itself an answer about X. Another case's entry
      // says only what of that case was shown (how many of its files, which): that case's readers
      // need not be this case's, so nothing of this case goes into their log, neither its id, its
      // file or blob, the picture's SHA-256 (a content of this case), nor how many matches there
      // were in all (which counts other cases' files).
      //
      // Volume (pdq-search-assigned-writes-every-evidence-log-of-every-case): once every evidence
      // log of every case searched, 10,000 entries a search for 200 cases of 50 items. Logs are per
      // evidence item (there is no case-level log), so another case's search is written where it
      // showed something (each evidence item a shown file is in) and, when it showed nothing, once,
      // in the log of the case's first evidence item (by id) for the whole case (`evidenceSearched`
      // items). Every case searched keeps at least one entry; the case asked from keeps one in every
      // item, as before (one case's worth).
      for (const id of caseIds) {
        const shownFiles = items.flatMap((i) => i.files.filter((f) => f.caseId === id));
        const shown = shownFiles.map((f) => f.fileId);
        const allEvidence = (await deps.index.listEvidence(id)).map((e) => e.evidenceId).sort();
        const isAskedFrom = id === params.caseId;
        const shownEvidence = [...new Set(shownFiles.map((f) => f.evidenceId))].filter((e) => allEvidence.includes(e)).sort();
        const evidenceIds = isAskedFrom ? allEvidence : shownEvidence.length > 0 ? shownEvidence : allEvidence.slice(0, 1);
        await recordForCase(
          deps,
          principal,
          {
            caseId: id,
            evidenceIds,
            action: 'search',
            ...(isAskedFrom ? { subject: subjectOf(file) } : {}),
            details: isAskedFrom
              ? { similarTo: file.fileId, maxDistance, scope, returned: items.length, filesShown: shown.length }
              : {
                  filesShown: shown.length,
                  // How many evidence items the search covered; the entry is in fewer logs (above).
                  evidenceSearched: allEvidence.length,
                  // Keyed on the files shown, not the items they are in: a shown file whose item
                  // listEvidence lacks must not make the entry say nothing was shown.
                  ...(shown.length === 0 ? { recordedFor: 'case' } : {}),
                  // Which of its files, while the entry stays small; past the limit the count alone (never a cut list).
                  ...(shown.length <= API_LIMITS.searchCustodyMaxFileIds ? { fileIdsShown: shown } : {}),
                },
          },
          abortSignal ? { abortSignal } : {},
        );
      }
      return {
        status: 200,
        body: { fileId: file.fileId, hash: own?.hash ?? null, quality: own?.quality ?? null, kind, frames, maxDistance, scope, caseIds, method: result?.method ?? null, items },
      };
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
      const details = { path: file.path, thumbnail: content.thumbnail.name, thumbnailSource: content.thumbnailSource };
      return auditedJpeg(deps, principal, file, content.thumbnail, details, abortSignal);
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/embedded-preview',
    operationId: 'getEmbeddedPreview',
    summary: "The embedded EXIF preview of a JPEG/HEIC file: the picture a 'preview-differs' finding compares with the image",
    description:
      'Examiners and supervisors (the preview is bytes of the evidence file). The preview (EXIF IFD1 JPEG) as the file stores it, byte for byte, kept beside the thumbnail when it was made; the main ' +
      "image's picture is GET …/thumbnail. 404 when the file has none (or was analysed before previews were kept). Recorded " +
      "as a 'thumbnail-view' with `image: embedded-preview`.",
    // The preview's bytes are part of the evidence file, copied as stored: the roles that may copy evidence bytes (access-policy.ts).
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'JPEG bytes as stored in the file', contentType: 'image/jpeg' } },
    async handler({ deps, principal, params, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
      const preview = content?.embeddedPreview;
      if (!preview || content.thumbnailStatus !== 'done') throw notFound();
      return auditedJpeg(deps, principal, file, preview, { path: file.path, image: 'embedded-preview', preview: preview.name }, abortSignal);
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/download',
    operationId: 'getDownloadUrl',
    summary: "A short-lived URL for one file's bytes, and only that file's; unassignment revokes it",
    description:
      `Examiners and supervisors only. The URL is an API link, \`…/files/{fileId}/content?ticket=…\`, valid for ${API_LIMITS.downloadUrlTtlMs / 60_000} minutes ` +
      'and fetched without a token: each fetch checks the ticket\'s user against their current assignment (unassigning them ends the link at ' +
      "once) and is recorded as a 'download' (delivery `stream`, with the `ticketId`), like GET …/content. The issue is recorded as a " +
      "'download' (delivery `url`). Only whole-blob files over " +
      `${API_LIMITS.downloadSasOverBytes / 1024 ** 3} GiB get a read-only storage SAS instead (\`kind: storage-sas\`), valid for ` +
      `${API_LIMITS.downloadSasTtlMs / 60_000} minutes, for the blob that is the file: an API response cannot outlast Azure's 230-second ` +
      'front-end limit. A SAS cannot be revoked: after an unassignment it can still start a fetch until it expires, and its fetches go ' +
      'straight to storage, unrecorded. `range` is always null (kept for older clients).',
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'URL and expiry of a link to exactly this file', schema: downloadSchema } },
    async handler({ deps, principal, params, caseAccess, baseUrl, abortSignal }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const bytes = await fileBytesOf(deps, file);
      const expected = expectedOf(file, bytes);
      const now = deps.now?.() ?? new Date();
      const sasOverBytes = deps.downloadSasOverBytes ?? API_LIMITS.downloadSasOverBytes;
      let body: z.input<typeof downloadSchema>;
      let granted: Record<string, unknown>;
      if (!bytes.range && expected.length > sasOverBytes) {
        const url = await deps.blobs.readUrl(bytes.blob, { expiresInMs: API_LIMITS.downloadSasTtlMs });
        const expiresAt = new Date(now.getTime() + API_LIMITS.downloadSasTtlMs).toISOString();
        body = { url, kind: 'storage-sas', expiresAt, fileName: file.name, size: file.size, sha256: file.sha256, range: null };
        // The URL is a bearer secret: record what it grants, never the URL.
        granted = { kind: 'storage-sas', container: bytes.blob.container, blobName: bytes.blob.name, expiresAt };
      } else {
        // The roles the caller downloads with on this case (the assignment may narrow the token's).
        const roles = (caseAccess?.roles ?? principal.roles).filter((r) => CONTENT_DOWNLOADERS.includes(r));
        const issued = await issueDownloadTicket(deps, { user: principal.user, ...(principal.objectId !== undefined ? { objectId: principal.objectId } : {}), roles, caseId: file.caseId, fileId: file.fileId, purpose: 'download' });
        const path = `/cases/${encodeURIComponent(file.caseId)}/files/${encodeURIComponent(file.fileId)}/content`;
        const url = `${baseUrl ?? '/api'}${path}?ticket=${issued.ticket}`;
        body = { url, kind: 'api-ticket', expiresAt: issued.expiresAt, fileName: file.name, size: file.size, sha256: file.sha256, range: null };
        granted = { kind: 'api-ticket', issuedTicketId: issued.ticketId, expiresAt: issued.expiresAt };
      }
      await recordForFile(deps, principal, file, 'download', { path: file.path, delivery: 'url', range: null, ...granted });
      return { status: 200, headers: { 'cache-control': 'no-store' }, body };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/content',
    operationId: 'getFileContent',
    summary: "The file's bytes, exactly: checked against the recorded size and SHA-256 on the way",
    description:
      "Examiners and supervisors only. Recorded as a 'download' (delivery `stream`) before the first byte is sent. The body is the " +
      'file and nothing else: for a member read in place (a ZIP member stored uncompressed, a disk-image file contiguous in a raw or fixed-VHD image or within one block of a dynamic VHD), only its span of the archive or image is read (the span comes from the index; no ' +
      'Range header or parameter can widen it). `X-Exhibit-SHA256` is the recorded hash, and the ETag is it quoted. Files up to 16 MiB are checked in full ' +
      "before anything is sent (a mismatch is a 500 'hash-mismatch'); larger ones are checked as they stream, and a mismatch cuts " +
      'the connection before the end, so the body is shorter than Content-Length: clients must check both. ' +
      'One byte range of the file (`Range: bytes=a-b`, `bytes=a-`, `bytes=-n`; positions within the file, never the archive) is a 206 with ' +
      "Content-Range (X-Exhibit-SHA256 and the ETag stay the whole file's), checked as a whole download is: a range covering the whole file is sent " +
      "as the whole file is (over 16 MiB its entry says `hashNotChecked: unless-read-to-end`: the check is at the end, which a player that stops early never reaches); " +
      `any other part of a file up to ${VERIFY_BEFORE_SEND_BYTES / 1024 ** 2} MiB is cut from the whole file, read and checked first ` +
      "(a mismatch is the same 500 'hash-mismatch', nothing sent), and for a while after such a check a later part is read alone from the blob " +
      "version that was checked in the same case (its entry saying `verifiedBy: earlier-whole-read-same-blob-version`, `verifiedAt` and `verifiedByEntry`, the " +
      "`verificationId` of the checking request's entry in the same log); only a part of a larger file is read from storage as that range alone and " +
      "checked for its length only, its entry saying `hashNotChecked: part-of-large-file`. Each part is its own " +
      "'download' entry naming the bytes it gave. A range starting past the end is a 416 with `Content-Range: bytes */size`. Several ranges, a " +
      'malformed Range, or an If-Range other than the ETag are answered with the whole file (200). ' +
      'Instead of a bearer token, a `ticket` from GET …/download may be given (a download link): the ticket\'s user must still be ' +
      "assigned with a role that may download, checked on every fetch, and the entry carries the `ticketId`. A playback link's ticket " +
      '(GET …/playback-link) is not accepted here (401).',
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    acceptsDownloadTicket: 'download',
    params: fileParams,
    query: z.strictObject({
      ticket: z.string().max(64).optional().describe('A download link\'s ticket (from GET …/download), used when no Authorization header is sent'),
    }),
    responses: {
      200: { description: "The file's bytes", contentType: 'application/octet-stream' },
      206: { description: 'One byte range of the file (Content-Range says which)', contentType: 'application/octet-stream' },
      416: { description: 'The range starts past the end of the file; Content-Range: bytes */size' },
    },
    async handler({ deps, principal, params, abortSignal, requestHeaders, logger }): Promise<ApiResponse> {
      const file = await loadFile(deps, params.caseId, params.fileId);
      return serveFileBytes({ deps, principal, file, ...(abortSignal ? { abortSignal } : {}), requestHeaders, logger }, { as: 'download' });
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/playback-link',
    operationId: 'getPlaybackUrl',
    summary: "A short-lived URL that plays one video or audio file in a browser's <video>/<audio> element (GET …/playback)",
    description:
      'Examiners and supervisors only, as for downloads. Only for a file the index identified from its bytes as video or audio of a type a browser may ' +
      "play (MP4, QuickTime, WebM, Matroska, Ogg, 3GPP, MP3, AAC, M4A, WAV, FLAC); anything else is a 409 'conflict' with `details.playback` " +
      "`not-identified`, `not-media` or `type-not-playable`, and stays download-only. The URL is `…/files/{fileId}/playback?ticket=…`: a ticket " +
      `like a download link's (one file, one user, checked against their current assignment on every fetch, ended by unassignment), valid for ` +
      'only GET …/playback (not …/content, so it never fetches the file as an attachment), ' +
      `${API_LIMITS.downloadUrlTtlMs / 60_000} minutes. A media element cannot send a token, and a player asks for parts of the file for as long ` +
      'as it plays: a client asks for a new link when a fetch is refused (the review app does, resuming where it was). Never a storage SAS, whatever ' +
      "the size. The issue is recorded as a 'download' (delivery `playback-url`, with the issued ticket's id).",
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    params: fileParams,
    query: z.strictObject({}),
    responses: { 200: { description: 'URL and expiry of a playback link to exactly this file, with the type it is served as', schema: playbackLinkSchema } },
    async handler({ deps, principal, params, caseAccess }) {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const playback = await playableOrRefused(deps, file);
      // The bytes must be there and hashed before a link is worth issuing, as for a download.
      expectedOf(file, await fileBytesOf(deps, file));
      const roles = (caseAccess?.roles ?? principal.roles).filter((r) => CONTENT_DOWNLOADERS.includes(r));
      const issued = await issueDownloadTicket(deps, { user: principal.user, ...(principal.objectId !== undefined ? { objectId: principal.objectId } : {}), roles, caseId: file.caseId, fileId: file.fileId, purpose: 'playback' });
      const path = `/cases/${encodeURIComponent(file.caseId)}/files/${encodeURIComponent(file.fileId)}/playback`;
      // Path-relative, never from the adapter's idea of its origin (baseUrl): the app's <video> loads it and the
      // bytes are Cross-Origin-Resource-Policy: same-origin, so only the page's own origin may serve them. The
      // Functions host's URL (behind the app's front door) or the local host's http://Host would be another origin,
      // or mixed content, and the player would be refused.
      const url = `/api${path}?ticket=${issued.ticket}`;
      // The URL is a bearer secret: record what it grants, never the URL.
      await recordForFile(deps, principal, file, 'download', {
        path: file.path,
        delivery: 'playback-url',
        range: null,
        kind: 'api-ticket',
        issuedTicketId: issued.ticketId,
        expiresAt: issued.expiresAt,
        contentType: playback.contentType,
      });
      const body: z.input<typeof playbackLinkSchema> = { url, expiresAt: issued.expiresAt, contentType: playback.contentType, kind: playback.kind, fileName: file.name, size: file.size };
      return { status: 200, headers: { 'cache-control': 'no-store' }, body };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/files/{fileId}/playback',
    operationId: 'playFileContent',
    summary: "A video or audio file's bytes for a browser's media player: as GET …/content, served inline as its media type",
    description:
      'Examiners and supervisors only. The same bytes, checks, single byte ranges (206, 416) and assignment check as GET …/content, with a ' +
      "`ticket` from GET …/playback-link (a download link's ticket is not accepted here: 401) or a token. Only for a file identified from its bytes as video or audio of a playable type " +
      "(as GET …/playback-link says); anything else is a 409 'conflict' with `details.playback`, so an HTML page or any other evidence is never served " +
      "for display from the app's origin. Sent with the listed media type (not sniffed, not taken from the name), `Content-Disposition: inline` (no file name: a browser that saves it instead never names it as the evidence), " +
      "`X-Content-Type-Options: nosniff`, `Content-Security-Policy: sandbox; default-src 'none'` and `Cross-Origin-Resource-Policy: same-origin`. " +
      "Every response that gives bytes (each part a player asks for) is recorded as a 'download' with delivery `playback`, naming the part.",
    access: { roles: CONTENT_DOWNLOADERS, caseScoped: true },
    acceptsDownloadTicket: 'playback',
    // A <video> on the app's page fetches this URL: its errors (a refused ticket, a 409, a 500) are no more
    // sniffable or embeddable by another site than its bytes.
    errorHeaders: PLAYBACK_SAFETY_HEADERS,
    params: fileParams,
    query: z.strictObject({
      ticket: z.string().max(64).optional().describe("A playback link's ticket (from GET …/playback-link), used when no Authorization header is sent"),
    }),
    responses: {
      200: { description: "The file's bytes, as its media type", contentType: 'video/*' },
      206: { description: 'One byte range of the file (Content-Range says which)', contentType: 'video/*' },
      409: { description: 'Not a video or audio file of a playable type: details.playback says why' },
      416: { description: 'The range starts past the end of the file; Content-Range: bytes */size' },
    },
    async handler({ deps, principal, params, abortSignal, requestHeaders, logger }): Promise<ApiResponse> {
      const file = await loadFile(deps, params.caseId, params.fileId);
      const playback = await playableOrRefused(deps, file);
      return serveFileBytes({ deps, principal, file, ...(abortSignal ? { abortSignal } : {}), requestHeaders, logger }, { as: 'playback', contentType: playback.contentType });
    },
  }),
];

/**
 * The type a file is played as, or the typed refusal (409, `details.playback`): decided on what the
 * index identified from the content's bytes, never on the name (media-playback.ts).
 */
async function playableOrRefused(deps: ApiDeps, file: FileRecord): Promise<{ contentType: string; kind: 'video' | 'audio' }> {
  const content = file.sha256 ? await deps.index.getContent(file.sha256) : null;
  const decision = playbackOf(content);
  if (decision.playable) return decision;
  const why: Record<PlaybackRefusal, string> = {
    'not-identified': 'this file has not been identified (yet): only files identified as video or audio can be played; download it instead',
    'not-media': 'this file is not video or audio: it can only be downloaded, never shown in the app',
    'type-not-playable': 'this media type is not one a browser plays: download it instead',
  };
  throw new ExhibitError('conflict', why[decision.refusal], { details: { playback: decision.refusal } });
}

/**
 * How GET …/content and GET …/playback send a file's bytes: the same reads,
 * checks, Range handling and custody entries; only what the response says the
 * bytes are, and the `delivery` the entries name, differ.
 */
type Delivery = { as: 'download' } | { as: 'playback'; contentType: string };

async function serveFileBytes(
  ctx: { deps: ApiDeps; principal: Principal; file: FileRecord; abortSignal?: AbortSignal; requestHeaders: Record<string, string | undefined> | undefined; logger: Logger },
  delivery: Delivery,
): Promise<ApiResponse> {
  const { deps, principal, file, abortSignal, requestHeaders, logger } = ctx;
  const bytes = await fileBytesOf(deps, file);
  const expected = expectedOf(file, bytes);
  const etag = etagOf(expected.sha256);
  const decision = decideRange({ range: requestHeaders?.['range'], ifRange: requestHeaders?.['if-range'] }, expected.length, etag);
  const headers: Record<string, string> = {
    ...(delivery.as === 'playback'
      ? // Shown in the page: only ever a listed media type, never sniffed, never a document that runs (media-playback.ts).
        { ...PLAYBACK_SAFETY_HEADERS, 'content-type': delivery.contentType, 'content-disposition': contentDisposition(file.name, 'inline') }
      : {
          'content-type': 'application/octet-stream',
          'content-disposition': contentDisposition(file.name),
          // Not readable into another origin's page (an <img>/<script> there), as playback is not.
          'cross-origin-resource-policy': 'same-origin',
        }),
    'x-exhibit-sha256': expected.sha256,
    // Every kind of file is a whole blob or one span of one (file-bytes.ts), so a part of a large file is one ranged
    // read: no kind has to be read from its start to reach it (a deflated member is read from its copy in derived/).
    'accept-ranges': 'bytes',
    etag,
    'cache-control': 'private, no-store',
  };
  const from = { container: bytes.blob.container, blobName: bytes.blob.name };
  // 'playback': the bytes went to the app's player (GET …/playback); still a 'download' entry, so every
  // look at who took which bytes of a file (the access screen's default filter included) finds it.
  const deliveryDetail = delivery.as === 'playback' ? 'playback' : 'stream';
  const route = delivery.as === 'playback' ? 'playFileContent' : 'getFileContent';
  const spans = verifiedSpansOf(deps);
  const readOptions = {
    ...(abortSignal ? { abortSignal } : {}),
    ...(deps.verifyBeforeSendBytes !== undefined ? { verifyBeforeSendBytes: deps.verifyBeforeSendBytes } : {}),
    // So a player's later parts of a file up to verifyBeforeSendBytes are one ranged read each, not the whole file again.
    // Only this file's case and evidence item: a derived blob is shared by every case holding its bytes, and a record
    // of another case's check is nothing this case's log shows (verified-spans.ts).
    spanRecord: { spans, caseId: file.caseId, evidenceId: file.evidenceId },
  };
  // A whole span this request hashed at one blob version is remembered only once its entry, which carries
  // verificationId, is written: a later part served on that record cites it (verifiedByEntry) in the same log.
  const verificationOf = (pinned: PinnedVerification | undefined) => (pinned ? { pinned, verificationId: randomUUID() } : undefined);
  const rememberAfterRecorded = (v: ReturnType<typeof verificationOf>): void => {
    if (v) spans.remember(v.pinned.key, { etag: v.pinned.etag, verifiedAtMs: v.pinned.verifiedAtMs, verificationId: v.verificationId });
  };

  if (decision.kind === 'unsatisfiable') {
    // No byte delivered, but the answer says this file exists and its size: a read, rate-limited like a
    // thumbnail's 304, not a download.
    await readAuditOf(deps).record(
      principal,
      { caseId: file.caseId, evidenceId: file.evidenceId, route, subjectKey: file.fileId, details: { fileId: file.fileId, rangeNotSatisfiable: true } },
      { logger },
    );
    return {
      status: 416,
      headers: {
        'content-range': `bytes */${expected.length}`,
        'accept-ranges': 'bytes',
        etag,
        'cache-control': 'private, no-store',
        ...(delivery.as === 'playback' ? PLAYBACK_SAFETY_HEADERS : {}),
      },
      body: Buffer.alloc(0),
    };
  }

  if (decision.kind === 'part') {
    // A file that does not hash as recorded gives no byte (500 hash-mismatch, as a whole download) unless the part
    // is of a file over verifyBeforeSendBytes: then only its length is checked, and its entry says so.
    const part = await readCheckedFilePart(deps.blobs, bytes, expected, decision, readOptions);
    const verification = verificationOf(part.pinned);
    // Every part is its own 'download' entry, with the bytes it names. A player seeking in a video asks
    // for many; one entry per link (or per first part) would leave out which parts of the file someone
    // saw and would not cover token callers, who have no ticket. The cost is one custody write per
    // request, as for a whole download; the read audit's grouping is for reads that deliver no evidence bytes.
    try {
      await recordForFile(deps, principal, file, 'download', {
        path: file.path,
        delivery: deliveryDetail,
        ...from,
        range: { offset: part.blobOffset, length: part.lengthBytes },
        part: { first: decision.first, last: decision.last, sizeBytes: expected.length },
        verifiedBeforeSend: part.verifiedBeforeSend,
        ...(part.hashNotChecked ? { hashNotChecked: part.hashNotChecked } : {}),
        // Not hashed by this request: the whole span was, in this case, at this blob ETag, at that time (the entry
        // with verificationId verifiedByEntry in this log says so), and the part was read only from the blob of
        // that ETag (If-Match), so these are bytes that matched the recorded SHA-256.
        ...(part.verifiedEarlier
          ? {
              verifiedBy: 'earlier-whole-read-same-blob-version',
              verifiedAt: new Date(part.verifiedEarlier.verifiedAtMs).toISOString(),
              blobEtag: part.verifiedEarlier.etag,
              verifiedByEntry: part.verifiedEarlier.verificationId,
            }
          : part.verifiedBeforeSend
            ? { verifiedBy: 'this-request' }
            : {}),
        ...(verification ? { verificationId: verification.verificationId } : {}),
      });
    } catch (err) {
      if (!Buffer.isBuffer(part.body)) part.body.destroy();
      throw err;
    }
    rememberAfterRecorded(verification);
    return {
      status: 206,
      headers: { ...headers, 'content-range': `bytes ${decision.first}-${decision.last}/${expected.length}`, 'content-length': String(part.lengthBytes) },
      body: part.body,
    };
  }

  const { body, pinned } = await readVerifiedWhole(deps.blobs, bytes, expected, readOptions);
  const verification = verificationOf(pinned);
  try {
    await recordForFile(
      deps,
      principal,
      file,
      'download',
      {
        path: file.path,
        delivery: deliveryDetail,
        ...from,
        range: bytes.range ?? { offset: 0, length: expected.length },
        verifiedBeforeSend: Buffer.isBuffer(body),
        // Hashed whole here before the first byte, as the 206 path says it (docs/operations.md).
        ...(Buffer.isBuffer(body) ? { verifiedBy: 'this-request' } : {}),
        // Streamed (over verifyBeforeSendBytes): the hash check is at the end, which a client that stops early never reaches.
        ...(Buffer.isBuffer(body) ? {} : { hashNotChecked: 'unless-read-to-end' }),
        ...(verification ? { verificationId: verification.verificationId } : {}),
        // A Range the route did not serve (several ranges, malformed, If-Range not matching): why the whole file went.
        ...(decision.reason === 'no-range' ? {} : { rangeIgnored: decision.reason }),
      },
    );
  } catch (err) {
    if (!Buffer.isBuffer(body)) body.destroy();
    throw err;
  }
  rememberAfterRecorded(verification);
  return { status: 200, headers: { ...headers, 'content-length': String(expected.length) }, body };
}

/** A custody entry about one file, in its own evidence item's log. */
function recordForFile(
  deps: ApiDeps,
  principal: Principal,
  file: FileRecord,
  action: CustodyAction,
  details: Record<string, unknown>,
): Promise<number> {
  return recordForCase(deps, principal, { caseId: file.caseId, evidenceIds: [file.evidenceId], action, subject: subjectOf(file), details });
}

/**
 * A derived JPEG of a file (thumbnail, embedded preview), recorded as a 'thumbnail-view' before
 * it is sent: the stream is opened first (a missing blob answers before anything is recorded) and
 * let go of when the record fails, so nothing is served unrecorded.
 */
async function auditedJpeg(
  deps: ApiDeps,
  principal: Principal,
  file: FileRecord,
  ref: BlobRef,
  details: Record<string, unknown>,
  abortSignal: AbortSignal | undefined,
): Promise<{ status: 200; headers: Record<string, string>; body: Readable }> {
  const stream: Readable = await deps.blobs.openRead(ref, abortSignal ? { abortSignal } : {});
  try {
    await recordForFile(deps, principal, file, 'thumbnail-view', details);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  return { status: 200, headers: { 'content-type': 'image/jpeg', 'cache-control': 'private, no-store' }, body: stream };
}

function subjectOf(file: FileRecord): { fileId: string; sha256?: string; blobName?: string } {
  const subject: { fileId: string; sha256?: string; blobName?: string } = { fileId: file.fileId };
  if (file.sha256) subject.sha256 = file.sha256;
  // A member read in place shares its blob with the whole archive: naming that
  // blob next to the member's sha256 would read as the blob's hash.
  if (file.source && file.source.offset == null) subject.blobName = file.source.name;
  return subject;
}

/** The index's default (PDQ_SEARCH_DEFAULT_LIMIT), for the merged list of a video's frames. */
const SIMILAR_DEFAULT_LIMIT = 100;

type SimilarItem = SimilarContent & { fromFrame: number; fromTimeMs?: number };

/**
 * Contents near any of the file's PDQ hashes: one for a picture, one per
 * contact-sheet frame for a video (docs/pdq.md, "Videos"). Each content once,
 * at its nearest: the distance, its frame (and time) that is near, and the
 * queried file's frame it is near to. Nearest first, then by content and frame.
 */
async function similarToFrames(
  deps: ApiDeps,
  frames: readonly PdqFrameHash[],
  query: { caseIds: string[]; maxDistance: number; limit?: number },
): Promise<{ method: SimilarResult['method']; items: SimilarItem[] }> {
  const best = new Map<string, SimilarItem>();
  let method: SimilarResult['method'] = 'scan';
  for (const f of frames) {
    const result = await deps.index.similarByPdq({ hash: f.hash, ...query });
    method = result.method;
    for (const item of result.items) {
      const prev = best.get(item.sha256);
      if (prev && (prev.distance < item.distance || (prev.distance === item.distance && prev.frame <= item.frame))) continue;
      best.set(item.sha256, { ...item, fromFrame: f.frame, ...(f.timeMs !== undefined ? { fromTimeMs: f.timeMs } : {}) });
    }
  }
  const items = [...best.values()].sort((a, b) => a.distance - b.distance || (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  return { method, items: items.slice(0, query.limit ?? SIMILAR_DEFAULT_LIMIT) };
}

