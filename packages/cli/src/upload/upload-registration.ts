import path from 'node:path';
import type { DeclaredSegment } from '@exhibit/core';
import { apiPath, type ApiClient } from '../api/api-client.js';
import type { UploadRegistrationBody } from '../api/api-types.js';
import { openRegularFile } from './upload.service.js';

/**
 * Announces an upload to the API before its bytes go to storage. The API
 * records the uploader from the token (blob metadata such as `examiner` is
 * whatever the uploader typed, so it decides nothing) and, on a case that
 * does not exist yet, assigns the caller to it as its examiner: without this
 * step a new case would be visible to nobody.
 */
export async function registerUpload(
  api: ApiClient,
  file: string,
  options: {
    caseId: string;
    evidenceId: string;
    abortSignal?: AbortSignal;
    /** A split image's first segment: the set's manifest, declared before any segment is sent (docs/disk-images.md, "Split images"). */
    segments?: DeclaredSegment[];
  },
): Promise<UploadRegistrationBody> {
  // The same checks and words as the upload itself, so a missing file is named once, cleanly.
  const handle = await openRegularFile(file);
  let info;
  try {
    info = await handle.stat();
  } finally {
    await handle.close();
  }
  const { body } = await api.send<UploadRegistrationBody>('POST', apiPath('cases', options.caseId, 'uploads'), {
    body: registrationBody(options.evidenceId, path.basename(file), info.size, options.segments),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return body;
}

/** The registration's JSON body, as sent (and as measured against the API's body limit before a manifest is declared). */
export function registrationBody(evidenceId: string, fileName: string, size: number, segments?: DeclaredSegment[]): Record<string, unknown> {
  return { evidenceId, fileName, size, ...(segments ? { segments } : {}) };
}
