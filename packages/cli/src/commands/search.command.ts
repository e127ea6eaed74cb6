import { Option, type Command } from 'commander';
import { FILE_STAGES } from '@exhibit/core';
import { apiPath, type QueryValues } from '../api/api-client.js';
import type { SearchResultBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { renderSearchResult } from '../render/search.render.js';
import { bboxOption, hashPrefixOption, idOption, intOption, isoDateOption, WIDTH_DESCRIPTION, WIDTH_FLAGS, widthOption } from './option-parsers.js';
import { outputWidth } from '../render/output-width.js';

/** Bounds match the API's; a value outside them is a usage error here rather than a 400 there. */
const MAX_PAGE = 500;
const MAX_OFFSET = 1_000_000;

export interface SearchOptions {
  kind?: string;
  mime?: string;
  from?: string;
  to?: string;
  make?: string;
  model?: string;
  hasGps?: boolean;
  bbox?: string;
  hash?: string;
  path?: string;
  mismatch?: boolean;
  stage?: string;
  known?: 'bad' | 'notable' | 'good' | 'unknown';
  includeKnownGood?: boolean;
  evidence?: string;
  sort?: string;
  order?: string;
  limit?: number;
  offset?: number;
  cursor?: string;
  width?: number;
  json?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('search')
    .description('search the files of a case')
    .argument('<caseId>', 'case id', idOption('case'))
    .addOption(new Option('--kind <kind>', 'file kind').choices(['image', 'video', 'audio', 'archive', 'document', 'other']))
    .option('--mime <type>', 'detected MIME type, e.g. image/jpeg')
    .option('--from <iso>', 'taken at or after (ISO 8601)', isoDateOption)
    .option('--to <iso>', 'taken at or before (ISO 8601)', isoDateOption)
    .option('--make <make>', 'camera/phone make')
    .option('--model <model>', 'camera/phone model')
    .option('--has-gps', 'only files with a GPS position')
    .option('--bbox <minLon,minLat,maxLon,maxLat>', 'only positions inside this box', bboxOption)
    .option('--hash <hex>', 'MD5, SHA-1 or SHA-256 of the content, or its first 8 or more hex digits (e.g. the 12 this table prints)', hashPrefixOption)
    .option('--path <text>', 'text contained in the path')
    .option('--mismatch', 'only files whose extension does not match their content')
    .addOption(new Option('--stage <stage>', 'processing stage').choices([...FILE_STAGES]))
    .addOption(new Option('--known <kind>', 'only files in an enabled hash set of this kind, or in none (unknown)').choices(['bad', 'notable', 'good', 'unknown']))
    .option('--include-known-good', 'also show known-good files (hidden by default)')
    .option('--evidence <evidenceId>', 'only this evidence item', idOption('evidence'))
    .addOption(new Option('--sort <key>', 'sort key').choices(['path', 'takenAt', 'size', 'name']))
    .addOption(new Option('--order <order>', 'sort order').choices(['asc', 'desc']))
    .option('--limit <n>', `results per page (at most ${MAX_PAGE})`, intOption(1, MAX_PAGE))
    .option('--offset <n>', 'results to skip (slow when deep: page with --cursor instead)', intOption(0, MAX_OFFSET))
    .option('--cursor <cursor>', 'the page after the one that printed this cursor (same filters, sort and order; not with --offset)')
    .option(WIDTH_FLAGS, WIDTH_DESCRIPTION, widthOption)
    .option('--json', 'print the API response as JSON')
    .action(async (caseId: string, options: SearchOptions) => {
      const api = await ctx.api();
      const result = await api.getJson<SearchResultBody>(apiPath('cases', caseId, 'files'), {
        query: searchQuery(options),
        abortSignal: ctx.abortSignal,
      });
      ctx.stdout.write(
        options.json ? JSON.stringify(result, null, 2) + '\n' : renderSearchResult(result, { width: outputWidth(ctx.stdout, options.width), byCursor: options.cursor !== undefined }),
      );
    });
}

/** CLI options → the API's query parameters. */
export function searchQuery(o: SearchOptions): QueryValues {
  return {
    evidenceId: o.evidence,
    kind: o.kind,
    mime: o.mime,
    takenFrom: o.from,
    takenTo: o.to,
    make: o.make,
    model: o.model,
    hasGps: o.hasGps ? true : undefined,
    bbox: o.bbox,
    hash: o.hash === undefined ? undefined : hashPrefixOption(o.hash),
    path: o.path,
    extMismatch: o.mismatch ? true : undefined,
    stage: o.stage,
    known: o.known,
    includeKnownGood: o.includeKnownGood ? true : undefined,
    sort: o.sort,
    order: o.order,
    limit: o.limit,
    offset: o.offset,
    cursor: o.cursor,
  };
}
