import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { ExhibitError, isExhibitError, type ReviewFilter } from '@exhibit/core';
import { defineRoute, type ApiDeps, type Principal, type RouteModule } from '../api.types.js';
import { authorise } from '../access-check.js';
import { EXPORTERS } from '../access-policy.js';
import { recordForCase, recordPendingAssignmentChanges } from '../access-events.js';
import { contentForOccurrence, type ContentView } from '../case-scope.js';
import { API_LIMITS } from '../api-limits.js';
import { notFound } from '../http-errors.js';
import { param } from '../query-params.js';
import { readAuditOf } from '../read-audit.js';
import { reviewOf } from '../review-deps.js';
import { FILTER_SHAPE, filterOf, toFilter } from '../review-filter.js';
import { exportRecordSchema } from '../response-schemas.js';
import {
  csvHeader,
  csvRow,
  htmlFoot,
  htmlHead,
  htmlRow,
  jsonFoot,
  jsonHead,
  jsonRow,
  type CustodySummary,
  type ExportFormat,
  type ExportMeta,
} from '../export-render.js';

const caseId = param.id('Case id');
const EXPORT_ACCESS = { roles: EXPORTERS, caseScoped: true } as const;
/** Bytes an export renders ahead of the caller. */
export const EXPORT_BUFFER_BYTES = 16 * 1024;
const CONTENT_TYPES: Record<ExportFormat, string> = {
  html: 'text/html; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** The case's custody logs verified for the report (signatures and links; the evidence is not re-hashed here). */
async function custodySummary(deps: ApiDeps, caseIdValue: string, abortSignal: AbortSignal | undefined): Promise<CustodySummary> {
  const audit = deps.extensions?.custodyAudit;
  const note = 'Signatures, hash links, sequence and index agreement of every log were checked when this report was produced; the evidence blobs were not re-hashed (a supervisor\'s custody verification does that).';
  if (!audit) return { available: false, ok: null, verifiedAt: null, items: [], note };
  const v = await audit.verify({ caseId: caseIdValue, checkEvidence: false, ...(abortSignal ? { abortSignal } : {}) });
  return {
    available: true,
    ok: v.ok,
    verifiedAt: v.verifiedAt,
    items: v.items.map((i) => ({
      evidenceId: i.evidenceId,
      ok: i.ok,
      verifiedEntries: i.verifiedEntries,
      headHash: i.headHash,
      firstBreak: i.firstBreak ? `${i.firstBreak.reason} at seq ${i.firstBreak.seq ?? '?'}: ${i.firstBreak.detail}` : null,
    })),
    note,
  };
}

/** A thumbnail to embed, read whole but never past the cap; or why there is none. */
async function thumbnailOf(deps: ApiDeps, content: ContentView | null, abortSignal: AbortSignal | undefined): Promise<Buffer | string> {
  if (!content?.thumbnail || content.thumbnailStatus !== 'done') return 'No thumbnail.';
  let stream: Readable;
  try {
    stream = await deps.blobs.openRead(content.thumbnail, abortSignal ? { abortSignal } : {});
  } catch (err) {
    // A thumbnail storage lost (the watchdog makes it again) must not end the report: it says so instead.
    if (isExhibitError(err, 'not-found')) return 'Thumbnail recorded but not found in storage (it will be made again).';
    throw err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > API_LIMITS.exportThumbnailMaxBytes) return `Thumbnail larger than ${API_LIMITS.exportThumbnailMaxBytes} bytes: not embedded.`;
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** Why an export stopped before its end, when the server knows it (else absent). */
export type ExportStoppedBy = 'access-revoked';

/** What an export has sent so far: items count only the files of pieces that left the server. */
interface ExportCounter {
  items: number;
  stoppedBy?: ExportStoppedBy;
}

/** A piece of the report and the number of files it holds. */
interface ExportPiece {
  data: string | Buffer;
  items: number;
}

/** The report's text, one piece per file (or page of files), in path order. */
async function* renderExport(
  deps: ApiDeps,
  format: ExportFormat,
  filter: ReviewFilter,
  meta: ExportMeta,
  custody: CustodySummary,
  counter: ExportCounter,
  stillAllowed: () => Promise<unknown>,
  abortSignal: AbortSignal | undefined,
): AsyncGenerator<ExportPiece> {
  const review = reviewOf(deps);
  yield { data: format === 'html' ? htmlHead(meta) : format === 'csv' ? csvHeader() : jsonHead(meta, custody), items: 0 };
  // Files rendered (the cap and the JSON separators); counter.items is what was sent, behind this.
  let rendered = 0;
  let after = null;
  do {
    // An export renders as the caller reads, for minutes: an unassignment meanwhile ends it, as it ends a download link.
    if (after) {
      try {
        await stillAllowed();
      } catch (err) {
        // Only the answer "no longer allowed" is a revocation. A look-up that failed (index unavailable)
        // says nothing about the caller's access: the custody entry must not claim a revocation then.
        if (!isExhibitError(err, 'not-found') && !isExhibitError(err, 'forbidden')) throw err;
        counter.stoppedBy = 'access-revoked';
        throw new ExhibitError('aborted', "export cut short: the caller's access to the case was revoked", { cause: err });
      }
    }
    const page = await review.exportPage(filter, after, API_LIMITS.exportPageFiles);
    after = page.next;
    let text = '';
    let textItems = 0;
    for (const indexRow of page.rows) {
      // Files added while the export runs may match too; the count said before is the limit.
      if (rendered >= meta.count) {
        after = null;
        break;
      }
      // The shared content row's source may be another case's evidence: the report shows this occurrence's.
      const row = { ...indexRow, content: contentForOccurrence(indexRow.file, indexRow.content) };
      if (format === 'html') yield { data: htmlRow(row, await thumbnailOf(deps, row.content, abortSignal)), items: 1 };
      else {
        text += format === 'csv' ? csvRow(row) : jsonRow(row, rendered === 0);
        textItems += 1;
      }
      rendered += 1;
    }
    if (text) yield { data: text, items: textItems };
  } while (after);
  yield { data: format === 'html' ? htmlFoot(meta, custody) : format === 'csv' ? '' : jsonFoot(rendered), items: 0 };
}

/**
 * The bytes sent, hashed on the way. The last piece is held back until the
 * custody entry with the SHA-256 of everything (it included) is written: a
 * caller who got the whole report knows it was recorded. An export that
 * stops early (the caller went away, a read failed, the caller's access was
 * revoked) is recorded as incomplete with what was sent: its bytes, their
 * hash, and the files they hold (counted as each piece is released, so the
 * held-back piece of a cut export is not counted).
 */
function hashedExport(
  source: AsyncGenerator<ExportPiece>,
  counter: ExportCounter,
  record: (result: { sha256: string; bytes: number; complete: boolean }) => Promise<void>,
  logger: ApiDeps['logger'],
): Readable {
  const hash = createHash('sha256');
  let bytes = 0;
  let recorded = false;
  const release = (piece: { chunk: Buffer; items: number }) => {
    hash.update(piece.chunk);
    bytes += piece.chunk.length;
    counter.items += piece.items;
  };
  async function* run(): AsyncGenerator<Buffer> {
    let held: { chunk: Buffer; items: number } | null = null;
    try {
      for await (const piece of source) {
        const chunk = Buffer.isBuffer(piece.data) ? piece.data : Buffer.from(piece.data, 'utf8');
        if (chunk.length === 0) continue;
        if (held) {
          release(held);
          const out: Buffer = held.chunk;
          held = { chunk, items: piece.items };
          yield out;
        } else held = { chunk, items: piece.items };
      }
      if (held) release(held);
      const sha256 = hash.digest('hex');
      recorded = true;
      await record({ sha256, bytes, complete: true });
      if (held) yield held.chunk;
    } catch (err) {
      // A revocation is the system working as meant, not a fault: said once, at warn, by the export itself.
      if (counter.stoppedBy === 'access-revoked') {
        logger.warn({ bytes, items: counter.items }, "export cut short: the caller's access to the case was revoked while it streamed");
      }
      throw err;
    } finally {
      if (!recorded) {
        recorded = true;
        // What left the system before it stopped is recorded too; the hash is of those bytes.
        await record({ sha256: hash.digest('hex'), bytes, complete: false }).catch((err: unknown) =>
          logger.error({ err }, 'incomplete export not recorded in custody'),
        );
      }
      await source.return(undefined);
    }
  }
  // Read-ahead is bounded by the buffer: the next page is fetched only once the caller has taken about this much.
  return Readable.from(run(), { objectMode: false, highWaterMark: EXPORT_BUFFER_BYTES });
}

function exportFileName(caseIdValue: string, exportId: string, format: ExportFormat): string {
  return `${caseIdValue}-export-${exportId}.${format}`;
}

export const exportsRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/export',
    operationId: 'exportFiles',
    summary: 'A report of the files of the current filter (bookmarks: tagged=true) as HTML, CSV or JSON, streamed',
    description:
      'html: a self-contained page (thumbnails embedded as data URIs; metadata as recorded, hashes, paths, tags and notes, the custody verification ' +
      `summary, who produced it and when). At most ${API_LIMITS.exportMaxFiles} files (more: 400). Path order. Streamed in bounded memory. ` +
      "The SHA-256 of the bytes is computed as they stream and written, with the export id, to every evidence item's custody log (action 'export') " +
      'before the last piece is sent; GET …/exports/{exportId} reads it back. An export cut short is recorded with complete=false. ' +
      "The caller's assignment is checked again before each page of files after the first: an unassignment (or a role change) meanwhile " +
      "cuts the export short (stoppedBy: access-revoked).",
    access: EXPORT_ACCESS,
    params: z.strictObject({ caseId }),
    query: z.strictObject({ ...FILTER_SHAPE, format: z.enum(['html', 'csv', 'json']).optional().describe('html (default), csv or json') }),
    responses: {
      200: { description: 'The report; X-Exhibit-Export-Id names it', contentType: 'text/html' },
    },
    async handler({ deps, principal, params, query, logger, abortSignal }) {
      const { format = 'html', ...filterQuery } = query;
      const filter = toFilter(params.caseId, filterQuery);
      const review = reviewOf(deps);
      const count = await review.countFiles(filter, API_LIMITS.exportMaxFiles);
      if (count > API_LIMITS.exportMaxFiles) {
        throw new ExhibitError('invalid-argument', `more than ${API_LIMITS.exportMaxFiles} files match: narrow the filter`);
      }
      const exportId = randomUUID();
      const producedAt = (deps.now?.() ?? new Date()).toISOString();
      const meta: ExportMeta = { exportId, caseId: params.caseId, producedBy: principal.user, producedAt, filter: filterOf(filterQuery), count };
      const custody = format === 'csv' ? ({ available: false, ok: null, verifiedAt: null, items: [], note: '' } as CustodySummary) : await custodySummary(deps, params.caseId, abortSignal);
      const evidenceIds = (await deps.index.listEvidence(params.caseId)).map((e) => e.evidenceId);
      const counter: ExportCounter = { items: 0 };
      const record = (result: { sha256: string; bytes: number; complete: boolean }) =>
        recordExport(deps, principal, params.caseId, evidenceIds, {
          ...meta,
          format,
          items: counter.items,
          custodyOk: custody.ok,
          ...result,
          ...(counter.stoppedBy ? { stoppedBy: counter.stoppedBy } : {}),
        });
      // The caller's current assignment, checked again before each page after the first.
      const stillAllowed = () => authorise(EXPORT_ACCESS, principal, params.caseId, deps.access, (ids) => recordPendingAssignmentChanges(deps, ids));
      const body = hashedExport(renderExport(deps, format, filter, meta, custody, counter, stillAllowed, abortSignal), counter, record, logger);
      return {
        status: 200,
        headers: {
          'content-type': CONTENT_TYPES[format],
          'content-disposition': `attachment; filename="${exportFileName(params.caseId, exportId, format)}"`,
          'x-exhibit-export-id': exportId,
          'cache-control': 'private, no-store',
          ...(format === 'html' ? { 'content-security-policy': "default-src 'none'; img-src data:; style-src 'unsafe-inline'" } : {}),
        },
        body,
      };
    },
  }),

  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/exports/{exportId}',
    operationId: 'getExport',
    summary: "An export's record: its SHA-256, size and file count as written to custody",
    description:
      'Read from the index copy of the custody log. 404 until the export has ended (or for an unknown id). An export that stopped ' +
      'before its end (the caller went away, a read failed, access was revoked) answers with complete: false, stoppedBy when known, ' +
      "and the hash, size and file count of the part sent: never take such a record for a whole report. Recorded as a 'read' " +
      '(route getExport), rate-limited.',
    access: EXPORT_ACCESS,
    params: z.strictObject({ caseId, exportId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be an export id').describe('Export id (X-Exhibit-Export-Id)') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'The export as recorded', schema: exportRecordSchema } },
    async handler({ deps, principal, params, logger }) {
      const found = await reviewOf(deps).getExport(params.caseId, params.exportId);
      if (!found) throw notFound();
      await readAuditOf(deps).record(principal, { caseId: params.caseId, route: 'getExport', subjectKey: params.exportId, details: { exportId: params.exportId } }, { logger });
      return { status: 200, headers: { 'cache-control': 'private, no-store' }, body: found satisfies z.input<typeof exportRecordSchema> };
    },
  }),
];

async function recordExport(
  deps: ApiDeps,
  principal: Principal,
  caseIdValue: string,
  evidenceIds: string[],
  details: ExportMeta & { format: ExportFormat; items: number; custodyOk: boolean | null; sha256: string; bytes: number; complete: boolean; stoppedBy?: ExportStoppedBy },
): Promise<void> {
  const { count: _planned, ...rest } = details;
  const logs = await recordForCase(deps, principal, { caseId: caseIdValue, evidenceIds, action: 'export', details: { ...rest, planned: _planned } });
  if (logs === 0) {
    deps.logger.info({ audit: 'export', user: principal.user, ...rest }, 'export of a case with no evidence items (no custody log to write to)');
  }
}
