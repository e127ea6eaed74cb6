import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from './commands/command-module.js';
import { EXIT } from './cli-error.js';
import { tolerateClosedPipes } from './closed-pipe.js';
import { createCliContext } from './context.js';
import { runCli } from './program.js';

/**
 * The command modules. Each exports `register(program, ctx)`; to add a
 * command, write `commands/<name>.command.ts` and add ONE line here, e.g.
 *   import('./commands/custody.command.js'),
 */
export const loadCommandModules = (): Array<Promise<CommandModule>> => [
  import('./commands/upload.command.js'),
  import('./commands/login.command.js'),
  import('./commands/status.command.js'),
  import('./commands/search.command.js'),
  import('./commands/show.command.js'),
  import('./commands/custody.command.js'),
  import('./commands/admin.command.js'),
  import('./commands/cases.command.js'),
  import('./commands/whoami.command.js'),
  import('./commands/download.command.js'),
  import('./commands/image.command.js'),
  import('./commands/export.command.js'),
  import('./commands/pdq.command.js'),
  import('./commands/similar.command.js'),
  import('./commands/hashset.command.js'),
  import('./commands/pdq-backfill.command.js'),
];

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const interrupt = new AbortController();
  // First Ctrl-C stops cleanly (an upload can then be resumed); a second one exits at once.
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupting… (press Ctrl-C again to quit at once)\n');
    interrupt.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  let outputFailed = false;
  tolerateClosedPipes([process.stdout, process.stderr], () => {
    outputFailed = true;
  });
  const ctx = createCliContext({ abortSignal: interrupt.signal });
  const modules = await Promise.all(loadCommandModules());
  const code = await runCli(argv, ctx, modules);
  return outputFailed && code === EXIT.ok ? EXIT.error : code;
}

// Run when started directly (`tsx packages/cli/src/main.ts`); bin/exhibit.mjs calls main() itself.
const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
