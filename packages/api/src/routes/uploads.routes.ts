import { z } from 'zod';
import { ExhibitError, evidenceBlobName } from '@exhibit/core';
import { defineRoute, type RouteModule } from '../api.types.js';
import { EVIDENCE_UPLOADERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { notFound } from '../http-errors.js';
import { param } from '../query-params.js';
import { uploadRegistrationSchema } from '../response-schemas.js';

/** A base name as the CLI stores it: no folders, no control characters, not `.`/`..`. */
const fileName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\\\x00-\x1f\x7f]+$/, 'must be a file name without folders or control characters')
  .refine((n) => n !== '.' && n !== '..', { message: 'must be a file name' })
  .describe('File name, stored as <caseId>/<evidenceId>/<fileName>');

/**
 * Examiners announce an upload here before sending its bytes to storage.
 * Two things are decided on the server, from the token, never from what the
 * client writes into blob metadata:
 *
 * - who uploaded the blob (the first registration of a blob name stands);
 * - who may see a new case: the examiner who registers the first upload of a
 *   case nobody is assigned to, nobody claimed and nothing was received for
 *   is assigned to it (examiner role) and recorded as its claimant. Anyone
 *   else registering an upload must already be assigned as an examiner.
 */
export const uploadsRoutes: RouteModule = [
  defineRoute({
    method: 'POST',
    path: '/cases/{caseId}/uploads',
    operationId: 'registerUpload',
    summary: 'Announce the upload of one evidence file; opens a new case for the caller',
    description:
      'Call before writing the blob `<caseId>/<evidenceId>/<fileName>` to the evidence container. Records the caller (from the token) as its ' +
      "uploader and writes an 'upload' entry to the evidence item's custody log. On a case that does not exist yet (nobody assigned or " +
      'claimed, nothing received) the caller is assigned to it as examiner (201, `claimedCase: true`). Idempotent for the same caller; ' +
      '409 when another user registered that blob, or when the blob was received without registration.',
    access: { roles: EVIDENCE_UPLOADERS, caseScoped: true, newCaseRoles: EVIDENCE_UPLOADERS },
    params: z.strictObject({ caseId: param.id('Case id') }),
    query: z.strictObject({}),
    body: z.strictObject({
      evidenceId: param.id('Evidence item id'),
      fileName,
      size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).describe('Size in bytes of the file to be uploaded'),
    }),
    responses: {
      201: { description: 'Registered (and, with claimedCase, the case opened for the caller)', schema: uploadRegistrationSchema },
      200: { description: 'Already registered by the caller: nothing changed', schema: uploadRegistrationSchema },
    },
    async handler({ deps, principal, params, body, caseAccess, abortSignal }) {
      const blobName = evidenceBlobName(params.caseId, body.evidenceId, body.fileName);
      let claimedCase = false;
      if (caseAccess?.newCase) {
        // Another examiner may have claimed it since the access check: then this caller is a stranger to it.
        claimedCase = await deps.access.claimNewCase(params.caseId, principal.user, 'examiner');
        if (!claimedCase) throw notFound();
      }
      const existing = await deps.access.getUploadRegistration(blobName);
      if (existing && existing.uploadedBy !== principal.user) {
        throw new ExhibitError('conflict', `${blobName} was registered for upload by another user`);
      }
      if (!existing && (await deps.index.getUpload(blobName))) {
        throw new ExhibitError('conflict', `${blobName} was already received; evidence is never overwritten`);
      }
      const { created, registration } = existing
        ? { created: false, registration: existing }
        : await deps.access.registerUpload({
            blobName,
            caseId: params.caseId,
            evidenceId: body.evidenceId,
            fileName: body.fileName,
            size: body.size,
            uploadedBy: principal.user,
          });
      // A concurrent registration by someone else may have won the insert.
      if (!created && registration.uploadedBy !== principal.user) {
        throw new ExhibitError('conflict', `${blobName} was registered for upload by another user`);
      }
      if (created) {
        await recordForCase(
          deps,
          principal,
          {
            caseId: params.caseId,
            evidenceIds: [body.evidenceId],
            action: 'upload',
            subject: { blobName },
            details: { registered: true, fileName: body.fileName, size: body.size, claimedCase },
          },
        );
      }
      return {
        status: created ? 201 : 200,
        body: { ...registration, claimedCase } satisfies z.input<typeof uploadRegistrationSchema>,
      };
    },
  }),
];
