/**
 * How the README runs the CLI from a clone. Every message that tells the
 * user to run a command names it this way (through cliCommand), so what the
 * CLI says can be pasted as it is.
 */
export const CLI_INVOCATION = 'npm run exhibit --';

/** A command to run, as the README writes it, quoted for a sentence: `npm run exhibit -- login …`. */
export function cliCommand(args: string): string {
  return `\`${CLI_INVOCATION} ${args}\``;
}
