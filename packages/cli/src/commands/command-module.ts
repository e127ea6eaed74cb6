import type { Command } from 'commander';
import type { CliContext } from '../context.js';

/**
 * A CLI command lives in `commands/<name>.command.ts` and exports
 * `register(program, ctx)`, which adds its subcommand(s) to `program`.
 * main.ts lists the modules; adding a command is one line there.
 */
export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}
