import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Option, type Command } from 'commander';
import { ExhibitError } from '@exhibit/core';
import { apiPath } from '../api/api-client.js';
import { CliError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { createNewOutputFile } from '../output-file.js';
import { bboxOption, idOption, isoDateOption } from './option-parsers.js';
import { searchQuery, type SearchOptions } from './search.command.js';

export interface ExportResult {
  caseId: string;
  exportId: string;
  format: string;
  file: string;
  bytes: number;
  items: number;
  sha256: string;
}

interface ExportOptions extends SearchOptions {
  output: string;
  format: 'html' | 'csv' | 'json';
  tagged?: boolean;
  tag?: string;
}

/**
 * `exhibit export <case> -o <file>`: a report of the files matching the
 * filter (the bookmarks with --tagged) from GET …/export, saved as it
 * streams. The SHA-256 of the bytes saved is checked against the one the API
 * wrote to custody for this export; anything else keeps nothing (exit 3).
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('save a report (HTML, CSV or JSON) of the files matching a filter, e.g. the bookmarks; recorded in custody with its SHA-256')
    .argument('<caseId>', 'case id', idOption('case'))
    .requiredOption('-o, --output <path>', 'where to save it (never overwritten)')
    .addOption(new Option('--format <format>', 'report format').choices(['html', 'csv', 'json']).default('html'))
    .option('--tagged', 'only tagged files (the bookmarks)')
    .option('--tag <tag>', 'only files with this tag')
    .addOption(new Option('--kind <kind>', 'file kind').choices(['image', 'video', 'audio', 'archive', 'document', 'other']))
    .option('--from <iso>', 'taken at or after (ISO 8601)', isoDateOption)
    .option('--to <iso>', 'taken at or before (ISO 8601)', isoDateOption)
    .option('--has-gps', 'only files with a GPS position')
    .option('--bbox <minLon,minLat,maxLon,maxLat>', 'only positions inside this box', bboxOption)
    .option('--path <text>', 'text contained in the path')
    .option('--evidence <evidenceId>', 'only this evidence item', idOption('evidence'))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nInvestigators, examiners and supervisors. Exit codes: 0 saved and matching the custody record, 1 failed, 2 usage, 3 the bytes did not match, or custody records the export as incomplete (nothing kept).')
    .action(async (caseId: string, options: ExportOptions & { json?: boolean }) => {
      const result = await exportReport(ctx, caseId, options);
      ctx.stdout.write(
        options.json
          ? JSON.stringify(result, null, 2) + '\n'
          : `saved ${result.file}: ${result.items} files, ${result.bytes} bytes\n  SHA-256  ${result.sha256}\n  recorded in custody as export ${result.exportId}\n`,
      );
    });
}

export async function exportReport(ctx: CliContext, caseId: string, options: ExportOptions): Promise<ExportResult> {
  // A report holds evidence details: readable by its author only.
  const file = await createNewOutputFile(options.output, { mode: 0o600 });
  try {
    const api = await ctx.api();
    const { sort: _sort, order: _order, limit: _limit, offset: _offset, ...filter } = searchQuery(options);
    const query = { ...filter, format: options.format, tagged: options.tagged ? true : undefined, tag: options.tag };
    const res = await api.openStream(apiPath('cases', caseId, 'export'), { query, abortSignal: ctx.abortSignal });
    const exportId = res.headers.get('x-exhibit-export-id') ?? '';
    if (!/^[0-9a-f-]{36}$/.test(exportId)) throw new ExhibitError('invalid-argument', 'the API did not name the export; is it an Exhibit API?');
    let saved;
    try {
      saved = await file.stream(res.body as WebReadableStream<Uint8Array> | null, ctx.abortSignal);
    } catch (err) {
      if (ctx.abortSignal.aborted) throw new ExhibitError('aborted', 'interrupted; nothing was kept', { cause: err });
      throw new CliError('api-error', `the export stopped after ${file.bytesWritten} bytes (the connection broke, your access to the case was withdrawn, or the API could not record it); nothing was kept`, undefined, { cause: err });
    }
    const { bytes, sha256: actual } = saved;
    const recorded = await api.getJson<{ sha256: string; bytes: number; items: number; format: string; complete?: boolean; stoppedBy?: string; planned?: number }>(
      apiPath('cases', caseId, 'exports', exportId),
      { abortSignal: ctx.abortSignal },
    );
    // A body can end cleanly after the server cut the export short (a proxy closing a broken chunked body
    // as if it ended): the bytes then match the record, but the record says they are not the whole report.
    if (recorded.complete !== true) {
      const why = recorded.stoppedBy ? ` (${recorded.stoppedBy})` : '';
      const of = recorded.planned !== undefined ? ` of ${recorded.planned}` : '';
      throw new CliError(
        'incomplete',
        `custody records export ${exportId} as INCOMPLETE${why}: ${recorded.items}${of} files, ${recorded.bytes} bytes were sent; this is not the whole report, nothing was kept`,
      );
    }
    if (recorded.sha256 !== actual || recorded.bytes !== bytes) {
      throw new ExhibitError('hash-mismatch', `saved ${bytes} bytes with SHA-256 ${actual}; custody records ${recorded.bytes} bytes, SHA-256 ${recorded.sha256}; nothing was kept`, {
        details: { expectedSha256: recorded.sha256, actualSha256: actual },
      });
    }
    file.keep();
    return { caseId, exportId, format: recorded.format, file: options.output, bytes, items: recorded.items, sha256: actual };
  } finally {
    await file.discard();
  }
}
