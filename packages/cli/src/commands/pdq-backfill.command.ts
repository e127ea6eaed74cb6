import type { Command } from 'commander';
import { createRootLogger, ExhibitError } from '@exhibit/core';
import type { CliContext } from '../context.js';
import { intOption } from './option-parsers.js';

/**
 * `exhibit pdq-backfill` (docs/pdq.md, "Backfill"): PDQ hashes for the
 * pictures and videos indexed before PDQ existed. Like `hashset`, it works on
 * the index database and storage the configuration names, not through the API
 * (it reads every such original again, which is an operator's decision); with
 * PGlite, stop the local host first. Resumable: run it again after a stop.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('pdq-backfill')
    .description('compute the PDQ hashes of pictures and videos indexed before PDQ existed (re-reads each original; resumable)')
    .option('--dry-run', 'only say how many contents are waiting')
    .option('--max <contents>', 'stop after this many contents (run again to carry on)', intOption(1, 2_000_000_000))
    .option('--json', 'print the result as JSON')
    .action(async (options: { dryRun?: boolean; max?: number; json?: boolean }) => {
      const { openPdqBackfill } = await import('@exhibit/runtime');
      let job: Awaited<ReturnType<typeof openPdqBackfill>>;
      try {
        job = await openPdqBackfill(ctx.config(), { logger: createRootLogger({ level: 'warn', destination: ctx.stderr }) });
      } catch (err) {
        if (err instanceof ExhibitError && err.code !== 'index-unavailable') throw err;
        throw new ExhibitError('index-unavailable', `cannot open the index database and custody log (with PGlite, stop the local host first): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      try {
        if (options.dryRun) {
          const pending = await job.pending();
          return void ctx.stdout.write(options.json ? JSON.stringify({ pending }) + '\n' : `${pending} content(s) without a PDQ hash to try\n`);
        }
        const result = await job.run({
          abortSignal: ctx.abortSignal,
          ...(options.max !== undefined ? { maxContents: options.max } : {}),
          onProgress: (p) => {
            if (!options.json && p.tried > 0 && p.tried % 100 === 0) ctx.stderr.write(`  ${p.tried} of ${p.total} tried\n`);
          },
        });
        ctx.stdout.write(
          options.json
            ? JSON.stringify(result) + '\n'
            : `tried ${result.tried} of ${result.total} content(s): ${result.hashed} hashed, ${result.failed} without a hash (reason recorded, not tried again)\n`,
        );
      } finally {
        await job.close();
      }
    });
}
