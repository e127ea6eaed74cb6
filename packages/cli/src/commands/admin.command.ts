import type { Command } from 'commander';
import { apiPath } from '../api/api-client.js';
import type { RejectedBlobListBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { renderRejectedBlobs } from '../render/rejected-blobs.render.js';
import { intOption, WIDTH_DESCRIPTION, WIDTH_FLAGS, widthOption } from './option-parsers.js';
import { outputWidth } from '../render/output-width.js';

/** Bounds match the API's; a value outside them is a usage error here rather than a 400 there. */
const MAX_PAGE = 500;
const MAX_OFFSET = 1_000_000;

export function register(program: Command, ctx: CliContext): void {
  const admin = program.command('admin').description('operations for admins: what the system holds outside any case');

  admin
    .command('rejected-blobs')
    .description('blobs in the evidence container that were not taken in as evidence (bad name), newest first')
    .option('--limit <n>', `rows per page (at most ${MAX_PAGE})`, intOption(1, MAX_PAGE))
    .option('--offset <n>', 'rows to skip', intOption(0, MAX_OFFSET))
    .option(WIDTH_FLAGS, WIDTH_DESCRIPTION, widthOption)
    .option('--json', 'print the API response as JSON')
    .addHelpText('after', '\nNeeds the admin role.')
    .action(async (options: { limit?: number; offset?: number; width?: number; json?: boolean }) => {
      const api = await ctx.api();
      const result = await api.getJson<RejectedBlobListBody>(apiPath('admin', 'rejected-blobs'), {
        query: { limit: options.limit, offset: options.offset },
        abortSignal: ctx.abortSignal,
      });
      ctx.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : renderRejectedBlobs(result, { width: outputWidth(ctx.stdout, options.width) }));
    });
}
