import { userInfo } from 'node:os';
import { Option, type Command } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { createRootLogger, ExhibitError } from '@exhibit/core';
import { HASH_SET_KINDS, type HashSetRecord, type HashSetStore, type ImportProgress } from '@exhibit/index';
import { CliError } from '../cli-error.js';
import type { CliContext } from '../context.js';

/**
 * Hash sets (docs/known-files.md). These commands work on the index
 * database named by the configuration (DATABASE_URL, or the local PGlite
 * directory), not through the API: an NSRL release is tens of gigabytes,
 * read where it lies rather than uploaded. With PGlite the local host must
 * be stopped (one process per data directory).
 */
export function register(program: Command, ctx: CliContext): void {
  const hashset = program.command('hashset').description('known-file hash sets (NSRL, Project VIC / CAID, ICSE, checksum lists): import, list, enable, disable, remove');

  hashset
    .command('import <file>')
    .description('import a hash-set file (format detected from its content); a new version of an existing name replaces it once loaded')
    .requiredOption('--name <name>', 'the set name (letters, digits, space . _ ( ) -)')
    .addOption(new Option('--kind <kind>', 'what the set lists').choices([...HASH_SET_KINDS]).makeOptionMandatory())
    .option('--set-version <version>', 'the set version (default: what the file states, if anything); not --version, which is the program\'s own')
    .option('--category <n=name>', 'name a category number, e.g. --category "1=Category A" (repeatable)', collectCategory, {})
    .option('--skip-bad-rows', 'import the good rows of a file with malformed rows, recording how many were left out (default: refuse the file)')
    .addOption(new Option('--format <format>', 'read the file as a PDQ list (needed only for a list of bare 64-hex hashes, which reads as SHA-256 otherwise)').choices(['pdq']))
    .option('--max-distance <bits>', 'PDQ lists: a content within this many bits (of 256) of a listed hash matches (default 31)', parseBits)
    .option('--by <name>', 'who imports it, as recorded with the set', userInfo().username)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { name: string; kind: HashSetRecord['kind']; setVersion?: string; category: Record<string, string>; skipBadRows?: boolean; format?: 'pdq'; maxDistance?: number; by: string; json?: boolean }) => {
      await withSets(ctx, async (sets) => {
        const progress = progressView(ctx);
        try {
          const result = await sets.import(file, {
            name: options.name,
            kind: options.kind,
            ...(options.setVersion ? { version: options.setVersion } : {}),
            categoryNames: options.category,
            importedBy: options.by,
            skipBadRows: options.skipBadRows === true,
            ...(options.format === 'pdq' ? { format: 'pdq-list' as const } : {}),
            ...(options.maxDistance !== undefined ? { maxDistance: options.maxDistance } : {}),
            onProgress: progress.update,
            abortSignal: ctx.abortSignal,
          });
          progress.finish();
          if (options.json) return void ctx.stdout.write(JSON.stringify(result, null, 2) + '\n');
          ctx.stdout.write(renderSet(result.set));
          if (result.resumed) ctx.stdout.write('resumed an interrupted import of this file\n');
          if (result.replacedSetId !== null) ctx.stdout.write(`replaced the previous version (set ${result.replacedSetId})\n`);
          for (const e of result.errors) ctx.stderr.write(`  skipped ${e.unit} ${e.line}: ${e.reason}: ${e.detail}\n`);
        } catch (err) {
          progress.finish();
          if (err instanceof ExhibitError && Array.isArray(err.details?.errors)) {
            for (const e of err.details.errors as Array<{ unit: string; line: number; reason: string; detail: string }>) {
              ctx.stderr.write(`  ${e.unit} ${e.line}: ${e.reason}: ${e.detail}\n`);
            }
          }
          throw err;
        }
      });
    });

  hashset
    .command('list')
    .description('the hash sets in force (and any being built), with their matches')
    .option('--all', 'also list superseded versions')
    .option('--json', 'print the sets as JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      await withSets(ctx, async (sets) => {
        const list = await sets.list({ includeSuperseded: options.all === true });
        if (options.json) return void ctx.stdout.write(JSON.stringify(list, null, 2) + '\n');
        if (list.length === 0) return void ctx.stdout.write('no hash sets\n');
        for (const s of list) ctx.stdout.write(renderSet(s) + '\n');
      });
    });

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    hashset
      .command(`${verb} <name>`)
      .description(enabled ? 'use the set again and re-match every existing case against it (resumable: run again after an interruption)' : 'stop using the set; its matches are withdrawn at once')
      .action(async (name: string) => {
        await withSets(ctx, async (sets) => {
          const set = await sets.setEnabled(name, enabled);
          if (enabled) {
            const progress = progressView(ctx);
            const added = await sets.rematch(set.setId, { onProgress: progress.update, abortSignal: ctx.abortSignal });
            progress.finish();
            ctx.stdout.write(`enabled ${name}: ${added} new match(es)\n`);
          } else ctx.stdout.write(`disabled ${name}: its matches are withdrawn\n`);
        });
      });
  }

  hashset
    .command('rematch')
    .description('finish any interrupted re-match job (after an enable or import was stopped)')
    .action(async () => {
      await withSets(ctx, async (sets) => {
        const progress = progressView(ctx);
        let added = 0;
        for (const id of await sets.pendingMatchJobs()) added += await sets.rematch(id, { onProgress: progress.update, abortSignal: ctx.abortSignal });
        progress.finish();
        ctx.stdout.write(`${added} new match(es)\n`);
      });
    });

  hashset
    .command('remove <name>')
    .description('remove the set, its hashes and its matches')
    .action(async (name: string) => {
      await withSets(ctx, async (sets) => {
        await sets.remove(name);
        ctx.stdout.write(`removed ${name}\n`);
      });
    });
}

function parseBits(value: string): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) > 256) throw new CliError('usage', `--max-distance takes a whole number of bits from 0 to 256, got ${JSON.stringify(value)}`);
  return Number(value);
}

function collectCategory(value: string, previous: Record<string, string>): Record<string, string> {
  const m = /^(\d{1,5})=(.+)$/.exec(value);
  if (!m) throw new CliError('usage', `--category takes <number>=<name>, got ${JSON.stringify(value)}`);
  return { ...previous, [String(Number(m[1]))]: m[2]!.trim() };
}

/**
 * The sets through the composition root (packages/runtime openHashSets), so
 * a re-match writes its custody entries to the deployment's custody log.
 */
async function withSets(ctx: CliContext, fn: (sets: HashSetStore) => Promise<void>): Promise<void> {
  // Loaded here, not at start: the composition root pulls in every adapter, which the other commands never need.
  const { openHashSets } = await import('@exhibit/runtime');
  let opened: Awaited<ReturnType<typeof openHashSets>>;
  try {
    opened = await openHashSets(ctx.config(), { logger: createRootLogger({ level: 'warn', destination: ctx.stderr }) });
  } catch (err) {
    if (err instanceof ExhibitError && err.code !== 'index-unavailable') throw err;
    throw new ExhibitError('index-unavailable', `cannot open the index database and custody log (with PGlite, stop the local host first): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  try {
    await fn(opened.sets);
  } finally {
    await opened.close();
  }
}

export function renderSet(s: HashSetRecord): string {
  const categories = Object.entries(s.categoryNames).map(([k, v]) => `${k}=${v}`).join(', ');
  return [
    `${s.name}${s.version ? ` ${s.version}` : ''}  [${s.kind}]  ${s.enabled ? 'enabled' : 'DISABLED'}${s.state === 'active' ? '' : `  (${s.state})`}`,
    `  ${s.rowCount.toLocaleString('en-GB')} hashes from ${s.sourceFileName} (${s.format}${s.sourceVersion ? `, ${s.sourceVersion}` : ''}), sha256 ${s.sourceSha256}`,
    `  imported by ${s.importedBy} at ${s.importedAt}; ${s.rejectedRows} malformed row(s) left out; matches ${s.matchedContents} content(s)${s.matchDone ? '' : ' so far (re-match unfinished: exhibit hashset rematch)'}`,
    ...(s.maxDistance !== null ? [`  PDQ: a content within ${s.maxDistance} of 256 bits of a listed hash matches (a lead to look at, not proof)`] : []),
    ...(categories ? [`  categories: ${categories}`] : []),
  ].join('\n') + '\n';
}

const PHASE_LABEL: Record<ImportProgress['phase'], string> = {
  hashing: 'hashing the file', loading: 'loading rows', indexing: 'indexing', matching: 'matching cases', switching: 'switching',
};

/** A bar on a terminal, one line per phase otherwise. */
function progressView(ctx: CliContext): { update: (p: ImportProgress) => void; finish: () => void } {
  let phase: ImportProgress['phase'] | null = null;
  let bar: SingleBar | null = null;
  const stop = () => {
    bar?.stop();
    bar = null;
  };
  return {
    update(p) {
      if (p.phase !== phase) {
        stop();
        phase = p.phase;
        if (ctx.stderr.isTTY) {
          bar = new SingleBar({ format: `${PHASE_LABEL[p.phase]} [{bar}] {value}/{total}`, stream: ctx.stderr as NodeJS.WritableStream, hideCursor: true }, Presets.shades_classic);
          bar.start(p.total ?? 0, 0);
        } else ctx.stderr.write(`${PHASE_LABEL[p.phase]}…\n`);
      }
      if (bar) {
        if (p.total === null) bar.setTotal(p.done);
        bar.update(p.done);
      }
    },
    finish: stop,
  };
}
