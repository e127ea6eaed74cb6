import type { ContentRecord, FileRecord, IndexStore, UploadRecord } from '@exhibit/core';
import { API_LIMITS } from './api-limits.js';
import type { z } from 'zod';
import type { provenanceLinkSchema } from './response-schemas.js';

export type ProvenanceLink = z.input<typeof provenanceLinkSchema>;

export interface Provenance {
  chain: ProvenanceLink[];
  upload: UploadRecord | null;
  complete: boolean;
}

/**
 * Where a file came from: the file, each archive it was unpacked from, up to
 * the uploaded evidence blob, with the SHA-256 and tool versions of each
 * step. The walk is bounded and stays inside the file's evidence item, so a
 * damaged index cannot send it round in circles or into another case.
 */
export async function buildProvenance(index: IndexStore, file: FileRecord, content: ContentRecord | null): Promise<Provenance> {
  const chain: ProvenanceLink[] = [link(file, content)];
  const seen = new Set([file.fileId]);
  let current = file;
  while (current.parentId !== null) {
    if (chain.length >= API_LIMITS.maxProvenanceLinks || seen.has(current.parentId)) {
      return { chain, upload: null, complete: false };
    }
    const parent = await index.getFile(current.parentId);
    if (!parent || parent.caseId !== file.caseId || parent.evidenceId !== file.evidenceId) {
      return { chain, upload: null, complete: false };
    }
    seen.add(parent.fileId);
    chain.push(link(parent, parent.sha256 ? await index.getContent(parent.sha256) : null));
    current = parent;
  }
  const upload = await findUpload(index, current);
  return { chain, upload, complete: upload !== null };
}

async function findUpload(index: IndexStore, root: FileRecord): Promise<UploadRecord | null> {
  const candidates = [root.source?.name, `${root.caseId}/${root.evidenceId}/${root.recordedName}`];
  for (const blobName of candidates) {
    if (!blobName) continue;
    const upload = await index.getUpload(blobName);
    if (upload && upload.rootFileId === root.fileId) return upload;
  }
  return null;
}

function link(file: FileRecord, content: ContentRecord | null): ProvenanceLink {
  return {
    fileId: file.fileId,
    path: file.path,
    name: file.name,
    depth: file.depth,
    entryIndex: file.entryIndex,
    entryKind: file.entryKind,
    sha256: file.sha256,
    size: file.size,
    source: file.source,
    mime: content?.mime ?? null,
    tools: (content?.tools ?? {}) as Record<string, Array<{ name: string; version: string }>>,
  };
}
