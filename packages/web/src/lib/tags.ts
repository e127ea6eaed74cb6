export interface Tag {
  tagId: string;
  caseId: string;
  fileId: string;
  evidenceId: string;
  path: string;
  sha256: string | null;
  tag: string;
  note: string;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
}
export interface TagList {
  total: number;
  limit: number;
  offset: number;
  items: Tag[];
  counts: Array<{ tag: string; count: number }>;
}
export interface AccessEvent {
  time: string;
  actor: string;
  action: string;
  evidenceId: string;
  seq: number;
  fileId?: string | null;
  sha256?: string | null;
  path?: string | null;
  details: Record<string, unknown>;
}
export interface AccessEventList {
  total: number;
  limit: number;
  offset: number;
  items: AccessEvent[];
  byActor: Array<{ actor: string; action: string; count: number; last: string }>;
}
