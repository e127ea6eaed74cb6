import type { UploadRegistrationBody } from '../api/api-types.js';
import { printable } from './format.js';

/** Said once, when an upload opens a new case: the uploader now owns its access. */
export function renderCaseOpened(r: UploadRegistrationBody): string {
  return printable(
    `opened new case ${r.caseId}: ${r.uploadedBy} is assigned to it as examiner; assign others with ` +
      `exhibit assign ${r.caseId} <user> --role <role> (as a supervisor of the case, or an admin)`,
  ) + '\n';
}
