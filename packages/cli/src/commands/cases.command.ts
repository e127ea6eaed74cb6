import { Option, type Command } from 'commander';
import { ExhibitError, isExhibitError, ROLES } from '@exhibit/core';
import { apiPath } from '../api/api-client.js';
import type { AssignmentListBody, AssignResultBody, CaseListBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { renderAssignments, renderAssignResult, renderCases, renderUnassigned } from '../render/access.render.js';
import { idOption } from './option-parsers.js';

/** `exhibit cases`, `assignments`, `assign`, `unassign`: who sees which case, through the API (recorded in custody). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('cases')
    .description('your cases, with evidence counts; admins see every case, including those nobody is assigned to')
    .option('--json', 'print the API response as JSON')
    .action(async (options: { json?: boolean }) => {
      const api = await ctx.api();
      const body = await api.getJson<CaseListBody>(apiPath('cases'), { abortSignal: ctx.abortSignal });
      ctx.stdout.write(options.json ? JSON.stringify(body, null, 2) + '\n' : renderCases(body));
    });

  program
    .command('assignments')
    .description('who is assigned to a case (supervisors of the case, admins)')
    .argument('<caseId>', 'case id', idOption('case'))
    .option('--json', 'print the API response as JSON')
    .action(async (caseId: string, options: { json?: boolean }) => {
      const api = await ctx.api();
      const body = await api.getJson<AssignmentListBody>(apiPath('cases', caseId, 'assignments'), { abortSignal: ctx.abortSignal });
      ctx.stdout.write(options.json ? JSON.stringify(body, null, 2) + '\n' : renderAssignments(body));
    });

  program
    .command('assign')
    .description('assign a user to a case (supervisors of the case, admins); recorded in the custody log of every evidence item')
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<user>', 'local user name, Entra UPN (any letter case) or Entra object id; a name binds to the object id of its first sign-in')
    .addOption(new Option('--role <role>', 'the only role they act with on this case (default: the roles in their token)').choices(ROLES))
    .option('--json', 'print the API response as JSON')
    .action(async (caseId: string, user: string, options: { role?: string; json?: boolean }) => {
      const api = await ctx.api();
      const { body } = await api.send<AssignResultBody>('POST', apiPath('cases', caseId, 'assignments'), {
        body: { user, role: options.role ?? null },
        abortSignal: ctx.abortSignal,
      });
      ctx.stdout.write(options.json ? JSON.stringify(body, null, 2) + '\n' : renderAssignResult(body));
    });

  program
    .command('unassign')
    .description('remove a user from a case (supervisors of the case, admins); recorded like an assignment')
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<user>', 'the name assigned (UPNs in any letter case) or the Entra object id it is bound to')
    .option('--json', 'print the result as JSON')
    .action(async (caseId: string, user: string, options: { json?: boolean }) => {
      const api = await ctx.api();
      try {
        await api.send('DELETE', apiPath('cases', caseId, 'assignments', user), { abortSignal: ctx.abortSignal });
      } catch (err) {
        // The API's 404 is the same for "no such assignment" and "not your case": either way nothing was removed.
        if (isExhibitError(err) && err.code === 'not-found') {
          throw new ExhibitError('not-found', `nothing removed: ${user} holds no assignment on ${caseId} (or the case does not exist, or is not yours to manage)`);
        }
        throw err;
      }
      ctx.stdout.write(options.json ? JSON.stringify({ caseId, user, assigned: false }, null, 2) + '\n' : renderUnassigned(caseId, user));
    });
}
