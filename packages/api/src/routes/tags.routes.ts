import { z } from 'zod';
import type { FileTag } from '@exhibit/core';
import { defineRoute, type ApiDeps, type Principal, type RouteModule } from '../api.types.js';
import { CASE_READERS, TAG_WRITERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { API_LIMITS } from '../api-limits.js';
import { notFound } from '../http-errors.js';
import { param } from '../query-params.js';
import { readAuditOf } from '../read-audit.js';
import { reviewOf } from '../review-deps.js';
import { tagText } from '../review-filter.js';
import { tagListSchema, tagResultSchema } from '../response-schemas.js';

const caseId = param.id('Case id');
const tagId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a tag id').describe('Tag id');
/** Free text: line breaks and tabs allowed, other control characters not. */
const note = z
  .string()
  .max(API_LIMITS.maxNoteChars)
  .regex(/^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$/, 'must not contain control characters other than line breaks and tabs')
  .describe(`Free-text note, up to ${API_LIMITS.maxNoteChars} characters`);

type TagOp = 'add' | 'change' | 'remove';

/**
 * The custody entry of a tag change, in the log of the file's evidence item.
 * Written after the index change and before the answer; if it cannot be
 * written the change is undone, so no tag stands unrecorded.
 */
async function recordTag(
  deps: ApiDeps,
  principal: Principal,
  op: TagOp,
  tag: FileTag,
  previous: FileTag | null,
  undo: () => Promise<unknown>,
  abortSignal: AbortSignal | undefined,
): Promise<void> {
  try {
    await recordForCase(
      deps,
      principal,
      {
        caseId: tag.caseId,
        evidenceIds: [tag.evidenceId],
        action: 'bookmark',
        subject: { fileId: tag.fileId, ...(tag.sha256 ? { sha256: tag.sha256 } : {}) },
        details: {
          op,
          tagId: tag.tagId,
          tag: tag.tag,
          note: tag.note,
          path: tag.path,
          ...(previous ? { previous: { tag: previous.tag, note: previous.note, updatedBy: previous.updatedBy, updatedAt: previous.updatedAt } } : {}),
        },
      },
      abortSignal ? { abortSignal } : {},
    );
  } catch (err) {
    try {
      await undo();
    } catch (undoErr) {
      deps.logger.error({ err: undoErr, caseId: tag.caseId, tagId: tag.tagId, op }, 'tag change not recorded in custody and could not be undone');
    }
    throw err;
  }
}

export const tagsRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/cases/{caseId}/tags',
    operationId: 'listTags',
    summary: "The case's tags (bookmarks) with their notes, newest change first, and every tag's count",
    description: "Everyone on the case sees every tag. Recorded as a 'read' (route listTags), rate-limited.",
    access: { roles: CASE_READERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({
      fileId: param.fileId().optional(),
      tag: tagText('Only this tag').optional(),
      limit: param.int('Page size, default 50', 1, API_LIMITS.maxPageSize).optional(),
      offset: param.int('Items to skip', 0, API_LIMITS.maxOffset).optional(),
    }),
    responses: { 200: { description: 'One page of tags with the total', schema: tagListSchema } },
    async handler({ deps, principal, params, query, logger, abortSignal }) {
      const { limit = API_LIMITS.defaultPageSize, offset = 0 } = query;
      const page = await reviewOf(deps).listTags({
        caseId: params.caseId,
        ...(query.fileId ? { fileId: query.fileId } : {}),
        ...(query.tag ? { tag: query.tag } : {}),
        limit,
        offset,
      });
      await readAuditOf(deps).record(
        principal,
        { caseId: params.caseId, route: 'listTags', details: { total: page.total } },
        { logger },
      );
      return { status: 200, body: { ...page, limit, offset } satisfies z.input<typeof tagListSchema> };
    },
  }),

  defineRoute({
    method: 'POST',
    path: '/cases/{caseId}/tags',
    operationId: 'addTag',
    summary: 'Tag a file of the case, with an optional note',
    description: "409 when the file already has this tag. Recorded as a 'bookmark' (op add) in the file's evidence item's log.",
    access: { roles: TAG_WRITERS, caseScoped: true },
    params: z.strictObject({ caseId }),
    query: z.strictObject({}),
    body: z.strictObject({ fileId: param.fileId(), tag: tagText('The tag, e.g. weapon'), note: note.optional() }),
    responses: { 201: { description: 'The tag', schema: tagResultSchema } },
    async handler({ deps, principal, params, body, abortSignal }) {
      const review = reviewOf(deps);
      const tag = await review.addTag({ caseId: params.caseId, fileId: body.fileId, tag: body.tag, note: body.note ?? '', by: principal.user });
      await recordTag(deps, principal, 'add', tag, null, () => review.removeTag(tag.caseId, tag.tagId), abortSignal);
      return { status: 201, body: { tag } satisfies z.input<typeof tagResultSchema> };
    },
  }),

  defineRoute({
    method: 'PATCH',
    path: '/cases/{caseId}/tags/{tagId}',
    operationId: 'changeTag',
    summary: "Change a tag's name or note",
    description: "An empty note clears it. Recorded as a 'bookmark' (op change, with the previous tag and note).",
    access: { roles: TAG_WRITERS, caseScoped: true },
    params: z.strictObject({ caseId, tagId }),
    query: z.strictObject({}),
    body: z
      .strictObject({ tag: tagText('New tag').optional(), note: note.optional() })
      .refine((b) => b.tag !== undefined || b.note !== undefined, { message: 'give tag or note' }),
    responses: { 200: { description: 'The tag as changed', schema: tagResultSchema } },
    async handler({ deps, principal, params, body, abortSignal }) {
      const review = reviewOf(deps);
      const { before, after } = await review.updateTag(params.caseId, params.tagId, {
        ...(body.tag !== undefined ? { tag: body.tag } : {}),
        ...(body.note !== undefined ? { note: body.note } : {}),
        by: principal.user,
      });
      await recordTag(deps, principal, 'change', after, before, () => review.updateTag(params.caseId, params.tagId, { tag: before.tag, note: before.note, by: before.updatedBy }), abortSignal);
      return { status: 200, body: { tag: after } satisfies z.input<typeof tagResultSchema> };
    },
  }),

  defineRoute({
    method: 'DELETE',
    path: '/cases/{caseId}/tags/{tagId}',
    operationId: 'removeTag',
    summary: 'Remove a tag (and its note) from a file',
    description: "Recorded as a 'bookmark' (op remove, with the tag and note removed); the custody log keeps the history.",
    access: { roles: TAG_WRITERS, caseScoped: true },
    params: z.strictObject({ caseId, tagId }),
    query: z.strictObject({}),
    responses: { 204: { description: 'Removed' } },
    async handler({ deps, principal, params, abortSignal }) {
      const review = reviewOf(deps);
      const existing = await review.getTag(params.caseId, params.tagId);
      if (!existing) throw notFound();
      const removed = await review.removeTag(params.caseId, params.tagId);
      await recordTag(deps, principal, 'remove', removed, null, () => review.restoreTag(removed), abortSignal);
      return { status: 204 };
    },
  }),
];
