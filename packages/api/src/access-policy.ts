import type { Role } from '@exhibit/core';

/**
 * Who may do what. Decisions (least privilege):
 *
 * - Case data (evidence lists, status, search, file details, thumbnails):
 *   any role, but only on cases the user is assigned to. Admins are no
 *   exception: they administer assignments and see case data only when
 *   assigned themselves (which is itself recorded in custody).
 * - Downloads of file content: examiners and supervisors only. Investigators
 *   review results and thumbnails; copies of the bytes leave the system only
 *   with someone who answers for their handling.
 * - Assignments: supervisors of the case (assigned to it) and admins (any
 *   case, without being assigned). Assignments only narrow: the role on an
 *   assignment restricts the user to that role on that case; roles themselves
 *   come from the token (Entra app roles or the local issuer).
 * - Uploads: examiners announce each upload (POST /cases/{caseId}/uploads)
 *   on a case they are assigned to as examiners, or on a new case (nobody
 *   assigned or claimed, no evidence received), which that makes theirs:
 *   they are assigned to it with the examiner role and recorded as its
 *   claimant. A case that already exists is never claimable, so nobody gains
 *   a case by uploading to it.
 * - Global routes (/me, /cases) show only the caller's own assignments;
 *   admins' /cases also lists every case the system knows of, with how many
 *   users are assigned, so an unassigned case cannot go unnoticed (listing
 *   it reveals only its id and counts, no case data).
 * - Review (issue 13): map and timeline aggregates and content-addressed
 *   thumbnails are case data like search (any role, assigned). Tags with
 *   notes are read by everyone on the case and written by the roles that
 *   review evidence (investigators, examiners, supervisors), not by admins,
 *   who administer. Exports (reports) take evidence data out of the system:
 *   the same reviewing roles, each export recorded with its SHA-256. Who saw
 *   what (access events) is the supervisors' to read, like custody.
 * - Operations routes (/admin/...): admins only. They show what the system
 *   holds outside any case (blobs that were rejected as evidence names no
 *   case), so no assignment applies; other roles get 403.
 */
export const ANY_ROLE: readonly Role[] = ['examiner', 'investigator', 'supervisor', 'admin'];
export const CASE_READERS: readonly Role[] = ANY_ROLE;
export const CONTENT_DOWNLOADERS: readonly Role[] = ['examiner', 'supervisor'];
export const ASSIGNMENT_MANAGERS: readonly Role[] = ['supervisor', 'admin'];
/** Roles that manage assignments on any case without being assigned to it. */
export const ASSIGNMENT_ADMINS: readonly Role[] = ['admin'];
/** Roles that see the system's own records outside any case (rejected blobs). */
export const OPERATIONS_ADMINS: readonly Role[] = ['admin'];
/** Roles that announce evidence uploads, and may open a new case by doing so. */
export const EVIDENCE_UPLOADERS: readonly Role[] = ['examiner'];
/** Roles that see every case id in /cases, assigned or not. */
export const CASE_LISTERS: readonly Role[] = ['admin'];
/** Roles that add, change and remove tags (bookmarks with notes) on a case they are assigned to. */
export const TAG_WRITERS: readonly Role[] = ['investigator', 'examiner', 'supervisor'];
/** Roles that export reports (HTML, CSV, JSON) of a case they are assigned to. */
export const EXPORTERS: readonly Role[] = ['investigator', 'examiner', 'supervisor'];
/** Roles that read who viewed, downloaded and exported what on a case they are assigned to. */
export const ACCESS_AUDITORS: readonly Role[] = ['supervisor'];
