import type { AssignmentBody, AssignmentListBody, AssignResultBody, CaseListBody, MeBody } from '../api/api-types.js';
import { formatCount, printable, renderTable } from './format.js';

/**
 * Cases, assignments and the caller: what `exhibit cases`, `assign`,
 * `unassign`, `assignments` and `whoami` print. User names and case ids are
 * escaped like everything else a person typed.
 */

const roleText = (role: string | null) => role ?? 'token roles';

export function renderCases(body: CaseListBody): string {
  const adminView = body.cases.some((c) => c.assignees !== undefined);
  if (body.cases.length === 0) {
    return adminView
      ? 'no cases yet\n'
      : 'you are not assigned to any case: ask a supervisor or an admin (`exhibit assign <case> <user>`), or open a new case by uploading to it as an examiner\n';
  }
  const table = renderTable(body.cases, [
    { header: 'Case', value: (c) => c.caseId },
    { header: 'Your role', value: (c) => (c.assigned === false ? '(not assigned)' : roleText(c.role)) },
    ...(adminView
      ? [
          { header: 'Assignees', value: (c: CaseListBody['cases'][number]) => String(c.assignees ?? 0), align: 'right' as const },
          { header: 'Opened by', value: (c: CaseListBody['cases'][number]) => c.claimedBy ?? '-', maxWidth: 40 },
        ]
      : []),
    { header: 'Evidence', value: (c) => String(c.evidence), align: 'right' },
    { header: 'Files', value: (c) => formatCount(c.files), align: 'right' },
    { header: 'Processing', value: (c) => (c.evidence === 0 ? 'nothing received' : c.complete ? 'complete' : 'in progress') },
  ]);
  const unassigned = adminView ? body.cases.filter((c) => c.assignees === 0).length : 0;
  const note = unassigned > 0 ? `\n${unassigned} case${unassigned === 1 ? '' : 's'} with nobody assigned: exhibit assign <case> <user> --role <role>\n` : '\n';
  return `${table}\n${note}`;
}

export function renderAssignResult(result: AssignResultBody): string {
  const a = result.assignment;
  const who = printable(`${a.user} on ${a.caseId}`);
  // Which person it is for, once bound: the name may be renamed or reused, the object id not.
  const bound = a.objectId !== undefined ? printable(`, bound to object id ${a.objectId}`) : '';
  if (!result.changed) return `${who}: already assigned with ${roleText(a.role)}${bound}; nothing changed\n`;
  return `assigned ${who} with ${roleText(a.role)}${bound} (by ${printable(a.assignedBy)}, ${a.assignedAt})\n`;
}

export function renderUnassigned(caseId: string, user: string): string {
  return `${printable(`removed ${user} from ${caseId}`)}\n`;
}

export function renderAssignments(body: AssignmentListBody): string {
  if (body.assignments.length === 0) return `${printable(body.caseId)}: nobody is assigned\n`;
  return (
    renderTable(body.assignments, [
      { header: 'User', value: (a: AssignmentBody) => a.user, maxWidth: 60 },
      { header: 'Role', value: (a) => roleText(a.role) },
      // The person a bound assignment is for (see "Who is who", review-api.md); '-' until their first sign-in.
      { header: 'Object id', value: (a) => a.objectId ?? '-' },
      { header: 'Assigned by', value: (a) => a.assignedBy, maxWidth: 40 },
      { header: 'Since (UTC)', value: (a) => a.assignedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') },
    ]) + '\n'
  );
}

export function renderWhoami(me: MeBody, apiUrl: string): string {
  const lines = [
    `${printable(me.user)} (${me.roles.join(', ') || 'no roles'})`,
    `  token     ${me.authKind === 'local' ? 'local key' : 'Entra ID'}${me.expiresAt ? `, valid until ${me.expiresAt}` : ''}`,
    `  API       ${printable(apiUrl)}`,
    `  cases     ${me.cases.length === 0 ? '(none assigned)' : printable(me.cases.join(', '))}`,
  ];
  return lines.join('\n') + '\n';
}

export function renderDownloadResult(r: { caseId: string; fileId: string; file: string; bytes: number; sha256: string }): string {
  return (
    `saved ${printable(`${r.caseId} ${r.fileId}`)} to ${printable(r.file)}\n` +
    `  size      ${formatCount(r.bytes)} bytes\n` +
    `  sha256    ${r.sha256}  (matches the recorded SHA-256)\n`
  );
}
