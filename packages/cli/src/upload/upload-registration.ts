import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { apiPath, type ApiClient } from '../api/api-client.js';
import type { UploadRegistrationBody } from '../api/api-types.js';

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
  options: { caseId: string; evidenceId: string; abortSignal?: AbortSignal },
): Promise<UploadRegistrationBody> {
  const info = await stat(file);
  if (!info.isFile()) throw new ExhibitError('invalid-argument', `${file} is not a regular file`);
  const { body } = await api.send<UploadRegistrationBody>('POST', apiPath('cases', options.caseId, 'uploads'), {
    body: { evidenceId: options.evidenceId, fileName: path.basename(file), size: info.size },
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return body;
}
