import type { ContentRecord, DeclaredSegment, EvidenceStatus, FileRecord, RejectedBlob, SearchHit, UploadRecord } from '@exhibit/core';

/**
 * JSON bodies of the Exhibit API as the CLI reads them (the API documents
 * them in /api/openapi.json; they are the core domain records as JSON).
 */
export type EvidenceStatusBody = EvidenceStatus;

export interface EvidenceListBody {
  caseId: string;
  items: Array<{ evidenceId: string; uploads: number; files: number; complete: boolean }>;
}

export interface SearchResultBody {
  /** "At least" this many when totalIsLowerBound. */
  total: number;
  totalIsLowerBound: boolean;
  limit: number;
  offset: number;
  /** `--cursor` for the page after this one; null on the last page. */
  nextCursor: string | null;
  items: SearchHit[];
}

export interface ProvenanceLinkBody {
  fileId: string;
  path: string;
  name: string;
  depth: number;
  entryIndex: number | null;
  entryKind: string;
  sha256: string | null;
  size: number | null;
  source: { container: string; name: string } | null;
  mime: string | null;
  tools: Record<string, Array<{ name: string; version: string }>>;
}

export interface KnownFileMatchBody {
  sha256: string;
  setId: number;
  name: string;
  version: string | null;
  kind: 'known-bad' | 'notable' | 'known-good';
  category: number | null;
  categoryName: string | null;
  matchedOn: 'sha256' | 'sha1' | 'md5' | 'pdq';
  /** Only for a PDQ list's match (by distance). */
  pdq?: { distance: number; maxDistance: number; frame: number; timeMs: number | null; video?: boolean; listedHash: string; label: string | null };
}

export interface FileDetailBody {
  file: FileRecord;
  content: ContentRecord | null;
  /** Absent from servers older than the hash sets. */
  knownFileMatches?: KnownFileMatchBody[];
  provenance: { chain: ProvenanceLinkBody[]; upload: UploadRecord | null; complete: boolean };
}

export interface MeBody {
  user: string;
  roles: string[];
  authKind: 'local' | 'entra';
  expiresAt?: string;
  cases: string[];
}

export interface RejectedBlobListBody {
  total: number;
  limit: number;
  offset: number;
  items: RejectedBlob[];
}

export interface CaseListBody {
  cases: Array<{
    caseId: string;
    role: string | null;
    assignedAt: string | null;
    /** Absent from older APIs: then every listed case is the caller's. */
    assigned?: boolean;
    /** Admins only. */
    assignees?: number;
    claimedBy?: string | null;
    evidence: number;
    files: number;
    complete: boolean;
  }>;
}

export interface AssignmentBody {
  caseId: string;
  user: string;
  /** The Entra object id the assignment is bound to (first sign-in); absent while unbound and for local users. */
  objectId?: string;
  role: string | null;
  assignedBy: string;
  assignedAt: string;
}

export interface AssignmentListBody {
  caseId: string;
  assignments: AssignmentBody[];
}

export interface AssignResultBody {
  assignment: AssignmentBody;
  changed: boolean;
}

export interface UploadRegistrationBody {
  blobName: string;
  caseId: string;
  evidenceId: string;
  fileName: string;
  size: number;
  uploadedBy: string;
  registeredAt: string;
  claimedCase: boolean;
  /** The segment manifest as stored, when this registration declared one. */
  segments?: DeclaredSegment[];
}
