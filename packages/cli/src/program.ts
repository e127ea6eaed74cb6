import { Command, CommanderError } from 'commander';
import { errorMessage } from '@exhibit/core';
import { EXIT, exitCodeFor, type ExitCode } from './cli-error.js';
import type { CommandModule } from './commands/command-module.js';
import type { CliContext } from './context.js';

export const CLI_VERSION = '0.1.0';

/** The program with every module's commands registered; parse errors throw instead of exiting. */
export function createProgram(ctx: CliContext, modules: readonly CommandModule[]): Command {
  const program = new Command('exhibit')
    .description('Exhibit: upload evidence and follow its processing')
    .version(CLI_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added so every subcommand inherits them.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    });
  for (const m of modules) m.register(program, ctx);
  return program;
}

/** Runs one command line (without `node` and the script) and returns the exit code; never calls process.exit. */
export async function runCli(argv: readonly string[], ctx: CliContext, modules: readonly CommandModule[]): Promise<ExitCode> {
  const program = createProgram(ctx, modules);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version "errors" are how commander ends a successful --help.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      if (err.exitCode === 0) return EXIT.ok;
      return EXIT.usage;
    }
    const code = exitCodeFor(err);
    ctx.stderr.write(`exhibit: ${errorMessage(err)}\n`);
    return (code > ctx.exitCode ? code : ctx.exitCode) as ExitCode;
  }
}
