/**
 * npm run validate -- <folder> [--json] [--fields make,model,...] [--strict]
 *                               [--max-files N] [--max-depth N]
 *                               [--exiftool PATH | --no-exiftool] [--ffprobe PATH | --no-ffprobe]
 *
 * Reads every file under <folder> with Exhibit (as the pipeline does) and with
 * exiftool and ffprobe, and prints per-field agreement and every disagreement.
 * A developer's and examiner's instrument, not part of the product runtime.
 * Exit code: 0; 1 with --strict when any field misses (disagree, or a value on
 * one side only); 2 on bad usage; 3 when the run itself fails.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { FIELDS, VERDICTS, type Field } from './fields.compare.js';
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_FILES, runValidation, type ValidationReport } from './validation.runner.js';

const USAGE = `usage: npm run validate -- <folder> [--json] [--strict] [--fields ${FIELDS.join(',')}]
                             [--max-files N (${DEFAULT_MAX_FILES})] [--max-depth N (${DEFAULT_MAX_DEPTH})]
                             [--exiftool PATH | --no-exiftool] [--ffprobe PATH | --no-ffprobe]`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) fail(`${name} must be a whole number above 0`);
  return n;
}

/** ffmpeg's version line without the repeated name and the copyright. */
function shortVersion(name: string, version: string): string {
  return version.replace(`${name} version `, '').replace(/\s+Copyright.*$/, '');
}

export function formatReport(report: ValidationReport): string {
  const lines: string[] = [];
  const t = report.tools;
  lines.push(`Exhibit validation of ${report.root}: ${report.files.length} files`);
  lines.push(`  Exhibit: ${t.exhibit.map((x) => `${x.name} ${shortVersion(x.name, x.version)}`).join(', ')}`);
  lines.push(`  reference: exiftool ${t.exiftool ?? '(not installed)'}, ffprobe ${t.ffprobe ?? '(not installed)'}`);
  for (const n of report.notes) lines.push(`  note: ${n}`);
  lines.push('');
  const head = ['field', ...VERDICTS, 'agreement'];
  const rows = report.fields.map((f) => {
    const c = report.tally[f]!;
    return [f, ...VERDICTS.map((v) => String(c[v])), c.agreementPct === null ? 'n/a' : `${c.agreementPct.toFixed(1)} %`];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push('', 'agreement = agree ÷ (agree + disagree + only-exhibit + only-reference); both-absent and not-compared are left out.');

  const failed = report.files.filter((f) => f.exhibitError);
  if (failed.length > 0) {
    lines.push('', `Exhibit could not read the metadata of ${failed.length} file(s):`);
    for (const f of failed) lines.push(`  ${f.file}: ${f.exhibitError!.code}: ${f.exhibitError!.message}`);
  }
  const refNotes = report.files.filter((f) => f.referenceNotes.length > 0);
  if (refNotes.length > 0) {
    lines.push('', `The reference tools said this about ${refNotes.length} file(s):`);
    for (const f of refNotes) lines.push(`  ${f.file}: ${f.referenceNotes.join('; ')}`);
  }
  if (report.disagreements.length === 0) {
    lines.push('', 'No disagreements.');
  } else {
    lines.push('', `Disagreements (${report.disagreements.length}):`);
    for (const d of report.disagreements) {
      lines.push(`  ${d.file}  ${d.field}  [${d.verdict}]  exhibit: ${d.exhibit}  reference: ${d.reference}${d.source ? `  (${d.source})` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        strict: { type: 'boolean' },
        fields: { type: 'string' },
        'max-files': { type: 'string' },
        'max-depth': { type: 'string' },
        'no-exiftool': { type: 'boolean' },
        'no-ffprobe': { type: 'boolean' },
        exiftool: { type: 'string' },
        ffprobe: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1) fail('give exactly one folder');
  let fields: Field[] | undefined;
  if (values.fields !== undefined) {
    const wanted = values.fields.split(',').map((f) => f.trim()).filter(Boolean);
    const unknown = wanted.filter((f) => !(FIELDS as readonly string[]).includes(f));
    if (unknown.length > 0 || wanted.length === 0) fail(`unknown field(s): ${unknown.join(', ') || '(none given)'}`);
    fields = wanted as Field[];
  }
  const progress = !values.json && process.stderr.isTTY;
  const report = await runValidation({
    root: positionals[0]!,
    ...(fields ? { fields } : {}),
    maxFiles: positiveInt(values['max-files'], '--max-files', DEFAULT_MAX_FILES),
    maxDepth: positiveInt(values['max-depth'], '--max-depth', DEFAULT_MAX_DEPTH),
    ...(values['no-exiftool'] ? { exiftoolPath: null } : values.exiftool ? { exiftoolPath: values.exiftool } : {}),
    ...(values['no-ffprobe'] ? { ffprobePath: null } : values.ffprobe ? { ffprobePath: values.ffprobe } : {}),
    ...(progress ? { onFile: (i: number, n: number) => process.stderr.write(`\rreading ${i + 1}/${n}`) } : {}),
  });
  if (progress) process.stderr.write('\r\x1b[K');
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (values.strict && report.disagreements.length > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`validate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(3);
  });
}
