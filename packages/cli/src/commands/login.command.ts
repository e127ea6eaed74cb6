import type { Command } from 'commander';
import { issueLocalToken } from '@exhibit/api';
import { ExhibitError, ROLES, type Role } from '@exhibit/core';
import { cliCommand } from '../cli-hint.js';
import type { CliContext } from '../context.js';
import { printable } from '../render/format.js';
import { positiveNumberOption } from './option-parsers.js';
import { writeToken } from '../token-store.js';

const HOUR_MS = 60 * 60 * 1000;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('local stack only: get a token signed by the local key and keep it for later commands')
    .requiredOption('--user <name>', 'who you are')
    .option('--role <role>', `a role (repeatable): ${ROLES.join(', ')}`, collectRole, [] as Role[])
    .option('--ttl-hours <n>', 'token lifetime in hours (the API caps it)', positiveNumberOption(24))
    .option('--json', 'print who you are as JSON')
    .action(async (options: { user: string; role: Role[]; ttlHours?: number; json?: boolean }) => {
      if (options.role.length === 0) throw new ExhibitError('invalid-argument', `give at least one --role (${ROLES.join(', ')})`);
      const config = ctx.config();
      if (config.auth.kind !== 'local') {
        throw new ExhibitError('invalid-argument', `${cliCommand('login')} is for the local stack; with Entra ID, get a token from Entra and set EXHIBIT_TOKEN`);
      }
      const issued = await issueLocalToken(
        { user: options.user, roles: options.role, ...(options.ttlHours === undefined ? {} : { ttlMs: Math.round(options.ttlHours * HOUR_MS) }) },
        { keyDir: config.auth.keyDir },
      );
      const file = await writeToken(config.dataDir, issued.token);
      if (options.json) {
        ctx.stdout.write(JSON.stringify({ user: issued.user, roles: issued.roles, expiresAt: issued.expiresAt, tokenFile: file }, null, 2) + '\n');
      } else {
        ctx.stdout.write(
          `signed in as ${printable(issued.user)} (${issued.roles.join(', ')}) until ${issued.expiresAt}\n` +
            `token stored in ${printable(file)} (readable by you only)\n`,
        );
      }
      if (config.cli.token) ctx.stderr.write('note: EXHIBIT_TOKEN is set and takes precedence over the stored token\n');
    });
}

function collectRole(value: string, previous: Role[]): Role[] {
  if (!(ROLES as readonly string[]).includes(value)) {
    throw new ExhibitError('invalid-argument', `unknown role ${JSON.stringify(value)}; one of ${ROLES.join(', ')}`);
  }
  return [...previous, value as Role];
}
