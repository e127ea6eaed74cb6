import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ExhibitError, evidenceBlobName, LIMITS, validateSegmentManifest, type DeclaredSegment, type SegmentManifestEntry, type UploadRegistration } from '@exhibit/core';
import { defineRoute, type ApiDeps, type Principal, type RouteModule } from '../api.types.js';
import { EVIDENCE_UPLOADERS } from '../access-policy.js';
import { recordForCase } from '../access-events.js';
import { identityOf } from '../access-check.js';
import { notFound } from '../http-errors.js';
import { param } from '../query-params.js';
import { API_LIMITS } from '../api-limits.js';
import { uploadRegistrationSchema } from '../response-schemas.js';

/** A base name as the CLI stores it: no folders, no control characters, not `.`/`..`. */
const fileName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^/\\\x00-\x1f\x7f]+$/, 'must be a file name without folders or control characters')
  .refine((n) => n !== '.' && n !== '..', { message: 'must be a file name' })
  .describe('File name, stored as <caseId>/<evidenceId>/<fileName>');

const hex = (digits: number, what: string) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${digits}}$`), `must be ${digits} hex digits`).optional().describe(what);

/** A split image's segments, declared with its first segment's registration (docs/disk-images.md, "Split images"). */
const segmentManifest = z
  .array(
    z.strictObject({
      fileName,
      size: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).describe('Size in bytes of the segment'),
      md5: hex(32, 'Acquisition MD5 of the segment, as the imaging tool wrote it'),
      sha1: hex(40, 'Acquisition SHA-1 of the segment'),
      sha256: hex(64, 'Acquisition SHA-256 of the segment'),
    }),
  )
  .min(2)
  .max(LIMITS.maxDeclaredImageSegments)
  .optional()
  .describe(
    'Only with the registration of a split disk image\'s first segment (card.E01, disk.001), before any segment\'s bytes are sent: every segment of the set in order (1, 2, 3 …, ' +
      `at most ${LIMITS.maxDeclaredImageSegments}), its size and optional per-segment acquisition hashes. The pipeline waits for every declared segment before reading the image, ` +
      'checks each segment against its declared hashes (a mismatch is that upload\'s acquisition-hash mismatch) and size, and fails the image with segment-missing, naming them, ' +
      'when segments are still missing after the wait (docs/disk-images.md).',
  );

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
      'claimed, nothing received) the caller is assigned to it as examiner (201, `claimedCase: true`). Idempotent for the same caller: a repeat answers 200 once its ' +
      "'upload' entry is in the log, recording it then if the first attempt could not (503 while the custody log cannot be written); " +
      '409 when another user registered that blob, or when the blob was received without registration. With `segments` (a split disk image\'s first segment) the set\'s ' +
      'manifest is declared too: 400 when it is not a valid set (names, order, count, sizes, hashes, or its first entry is not this file), 409 when one of its segments was ' +
      'received before the set was declared or the set was declared otherwise before; the same manifest again is idempotent. 413 when the registration\'s custody entry ' +
      `would be over ${API_LIMITS.maxUploadCustodyBytes} bytes of its own (long segment names filling the body), before anything is written.`,
    access: { roles: EVIDENCE_UPLOADERS, caseScoped: true, newCaseRoles: EVIDENCE_UPLOADERS },
    params: z.strictObject({ caseId: param.id('Case id') }),
    query: z.strictObject({}),
    body: z.strictObject({
      evidenceId: param.id('Evidence item id'),
      fileName,
      size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).describe('Size in bytes of the file to be uploaded'),
      segments: segmentManifest,
    }),
    responses: {
      201: { description: 'Registered (and, with claimedCase, the case opened for the caller)', schema: uploadRegistrationSchema },
      200: { description: 'Already registered by the caller (and its segment manifest, if given, already declared the same way): nothing changed', schema: uploadRegistrationSchema },
    },
    async handler({ deps, principal, params, body, caseAccess, abortSignal }) {
      const blobName = evidenceBlobName(params.caseId, body.evidenceId, body.fileName);
      const segments = body.segments ? checkedManifest(body.segments, body.fileName, body.size) : null;
      assertUploadEntryFits(principal, blobName, body, segments);
      let claimedCase = false;
      if (caseAccess?.newCase) {
        // Another examiner may have claimed it since the access check: then this caller is a stranger to it.
        claimedCase = await deps.access.claimNewCase(params.caseId, identityOf(principal), 'examiner');
        if (!claimedCase) throw notFound();
      }
      const existing = await registrationAsSeenBy(deps, await deps.access.getUploadRegistration(blobName), principal);
      if (existing && !isRegistrant(existing, principal)) {
        throw new ExhibitError('conflict', `${blobName} was registered for upload by another user`);
      }
      if (!existing && (await deps.index.getUpload(blobName))) {
        throw new ExhibitError('conflict', `${blobName} was already received; evidence is never overwritten`);
      }
      const declared = await deps.index.getDeclaredSegment(blobName);
      if (declared && declared.size !== body.size) {
        throw new ExhibitError('conflict', `${blobName} is declared in the segment manifest of ${declared.firstBlobName} with ${declared.size} bytes, not ${body.size}`);
      }
      // The manifest's own refusals (a segment already received) before anything is written.
      if (segments) await refuseReceivedSegments(deps, params.caseId, body.evidenceId, segments);
      const { created, registration } = existing
        ? { created: false, registration: existing }
        : await deps.access.registerUpload({
            blobName,
            caseId: params.caseId,
            evidenceId: body.evidenceId,
            fileName: body.fileName,
            size: body.size,
            uploadedBy: principal.user,
            ...(principal.objectId !== undefined ? { uploadedByObjectId: principal.objectId } : {}),
          });
      // A concurrent registration by someone else may have won the insert.
      if (!created && !isRegistrant((await registrationAsSeenBy(deps, registration, principal)) ?? registration, principal)) {
        throw new ExhibitError('conflict', `${blobName} was registered for upload by another user`);
      }
      // Declared only once the registration is the caller's: a manifest of a user who lost the
      // registration race is never stored, and one declared here always has a custody entry below
      // (with the registration's when it was created now, or its own on an earlier registration).
      const manifest = segments ? await declareManifest(deps, params.caseId, body.evidenceId, segments, principal.user) : null;
      // Recorded on every answer, keyed by what it records: a retry of a registration whose entry was not
      // written (custody storage down) finds the registration and manifest there and records the entry
      // now; one whose entry was written is a no-op (upload-registration-custody-lost-on-retry).
      const retry = !created && !manifest?.created;
      await recordForCase(deps, principal, {
        caseId: params.caseId,
        evidenceIds: [body.evidenceId],
        action: 'upload',
        subject: { blobName },
        details: uploadDetails(body, retry ? null : claimedCase, manifest ? manifest.manifest : null),
        eventKey: uploadEventKey(blobName, manifest !== null),
      });
      return {
        // A manifest declared now on an earlier registration is a change too.
        status: created || manifest?.created ? 201 : 200,
        body: {
          ...withoutObjectId(registration),
          claimedCase,
          ...(manifest ? { segments: manifest.manifest.map(declaredOf) } : {}),
        } satisfies z.input<typeof uploadRegistrationSchema>,
      };
    },
  }),
];

/**
 * A registration without an object id (made before migration 0210, or by a local token) seen by an
 * Entra caller is bound first, as an assignment is: to the caller's object id only when the case's
 * assignment of the registrant's name was first bound to it (the registrant, renamed or not, or on
 * the case by object id since: bindUploadRegistration reads the history). Matching such
 * a registration by name let a new holder of a reused UPN continue someone else's registration
 * (pre-0210-registration-matched-by-reused-upn); now the name alone never makes an Entra caller the
 * registrant (isRegistrant).
 */
async function registrationAsSeenBy(deps: ApiDeps, registration: UploadRegistration | null, principal: Principal): Promise<UploadRegistration | null> {
  if (!registration || registration.uploadedByObjectId !== undefined || principal.objectId === undefined) return registration;
  return (await deps.access.bindUploadRegistration(registration.blobName, principal.objectId)) ?? registration;
}

/**
 * Whether the caller is who registered the upload, matched as assignments are ("Who is who",
 * review-api.md): by Entra object id when the registration has one (a renamed uploader is still
 * theirs, a new holder of their old UPN is not); an Entra caller never by name (registrationAsSeenBy
 * binds the registrant's own first); a local caller by name, UPN-like names case-insensitively (ASCII
 * folding, as exhibit_user_key), other names exactly.
 */
function isRegistrant(registration: UploadRegistration, principal: Principal): boolean {
  if (registration.uploadedByObjectId !== undefined) return registration.uploadedByObjectId === principal.objectId?.toLowerCase();
  if (principal.objectId !== undefined) return false;
  const fold = (name: string) => (name.includes('@') ? name.replace(/[A-Z]/g, (c) => c.toLowerCase()) : name);
  return fold(registration.uploadedBy) === fold(principal.user);
}

/** The body shows who registered by name, as before. */
function withoutObjectId(registration: UploadRegistration): Omit<UploadRegistration, 'uploadedByObjectId'> {
  const { uploadedByObjectId: _, ...rest } = registration;
  return rest;
}

/** The manifest as hostile input (core's checks), and its first entry must be the file being registered. */
function checkedManifest(segments: DeclaredSegment[], fileName: string, size: number): DeclaredSegment[] {
  const checked = validateSegmentManifest(segments.map(withoutUndefined));
  if (checked[0]!.fileName !== fileName || checked[0]!.size !== size) {
    throw new ExhibitError('invalid-argument', `segments[0] must be the file registered (${fileName}, ${size} bytes): a manifest is declared with its first segment`);
  }
  return checked;
}

/**
 * The details of a registration's `upload` custody entry. `claimedCase` null: recorded on a retry,
 * which cannot know whether the first attempt opened the case, so it says so (`recordedOnRetry`)
 * and leaves claimedCase out rather than guess.
 */
function uploadDetails(body: { fileName: string; size: number }, claimedCase: boolean | null, manifest: DeclaredSegment[] | null): Record<string, unknown> {
  return {
    registered: true,
    fileName: body.fileName,
    size: body.size,
    ...(claimedCase === null ? { recordedOnRetry: true } : { claimedCase }),
    ...(manifest ? { segmentManifest: manifest.map(declaredOf) } : {}),
  };
}

/**
 * The `upload` entry's event key (docs/review-api.md, "Upload registration"): one per blob for the
 * registration, another for an entry that carries the segment manifest (declared with the
 * registration or on it later), so a retry re-records exactly what its request declared. The blob
 * name's SHA-256, not the name: a 385-character CJK name would take 1 KiB of the entry.
 */
export function uploadEventKey(blobName: string, withManifest: boolean): string {
  return `${withManifest ? 'upload-manifest' : 'upload'}:sha256:${createHash('sha256').update(blobName, 'utf8').digest('hex')}`;
}

/**
 * Refuses, before anything is written, a registration whose custody entry the log would refuse
 * (a long-named manifest filling the request body): written first, its registration and manifest
 * stood without the entry, and a retry, finding them, recorded nothing (upload-custody-entry-over-limit-lost).
 * Measured as recordForCase writes it, with the longer of `claimedCase: false` and `recordedOnRetry: true`, and the longer event key.
 */
function assertUploadEntryFits(principal: Principal, blobName: string, body: { fileName: string; size: number }, manifest: DeclaredSegment[] | null): void {
  const own = {
    actor: principal.user,
    subject: { blobName },
    details: { ...uploadDetails(body, null, manifest), authKind: principal.authKind, roles: principal.roles },
    eventKey: uploadEventKey(blobName, true),
  };
  const bytes = Buffer.byteLength(JSON.stringify(own));
  if (bytes > API_LIMITS.maxUploadCustodyBytes) {
    throw new ExhibitError(
      'limit-exceeded',
      `this registration's custody entry would be ${bytes} bytes; at most ${API_LIMITS.maxUploadCustodyBytes} fit (shorter segment names, or fewer segments in the manifest)`,
    );
  }
}

/**
 * A segment received before its set was declared was read without the
 * manifest's hashes: refused (while the set is not declared yet), so every
 * declared hash is checked when its segment is.
 */
async function refuseReceivedSegments(deps: Pick<ApiDeps, 'index'>, caseId: string, evidenceId: string, segments: DeclaredSegment[]): Promise<void> {
  if ((await deps.index.getSegmentManifest(evidenceBlobName(caseId, evidenceId, segments[0]!.fileName))).length > 0) return;
  for (const s of segments) {
    const segmentBlob = evidenceBlobName(caseId, evidenceId, s.fileName);
    if (await deps.index.getUpload(segmentBlob)) {
      throw new ExhibitError('conflict', `${segmentBlob} was received before its set was declared; declare the set with its first segment's registration before sending any segment`);
    }
  }
}

/** Declares the set unless it is already declared the same way (then idempotent; otherwise the index's 409). */
async function declareManifest(
  deps: Pick<ApiDeps, 'index'>,
  caseId: string,
  evidenceId: string,
  segments: DeclaredSegment[],
  user: string,
): Promise<{ created: boolean; manifest: SegmentManifestEntry[] }> {
  const firstBlobName = evidenceBlobName(caseId, evidenceId, segments[0]!.fileName);
  const entries = segments.map((s, i) => ({ ...s, caseId, evidenceId, blobName: evidenceBlobName(caseId, evidenceId, s.fileName), firstBlobName, position: i + 1, declaredBy: user }));
  return deps.index.declareSegmentManifest(entries);
}

const declaredOf = (e: DeclaredSegment): DeclaredSegment => withoutUndefined({ fileName: e.fileName, size: e.size, md5: e.md5, sha1: e.sha1, sha256: e.sha256 });

function withoutUndefined(s: { fileName: string; size: number; md5?: string | undefined; sha1?: string | undefined; sha256?: string | undefined }): DeclaredSegment {
  const out: DeclaredSegment = { fileName: s.fileName, size: s.size };
  if (s.md5 !== undefined) out.md5 = s.md5;
  if (s.sha1 !== undefined) out.sha1 = s.sha1;
  if (s.sha256 !== undefined) out.sha256 = s.sha256;
  return out;
}
