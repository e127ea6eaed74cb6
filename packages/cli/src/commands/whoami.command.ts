import type { Command } from 'commander';
import { apiPath } from '../api/api-client.js';
import type { MeBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { renderWhoami } from '../render/access.render.js';

/** `exhibit whoami`: who the API takes you for (from the token it was sent), your roles and cases. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('whoami')
    .description('who the API takes you for: user, roles, token expiry and the cases you are assigned to')
    .option('--json', 'print the API response as JSON')
    .action(async (options: { json?: boolean }) => {
      const api = await ctx.api();
      const me = await api.getJson<MeBody>(apiPath('me'), { abortSignal: ctx.abortSignal });
      ctx.stdout.write(options.json ? JSON.stringify(me, null, 2) + '\n' : renderWhoami(me, api.baseUrl));
    });
}
