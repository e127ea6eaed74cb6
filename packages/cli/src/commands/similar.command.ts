import type { Command } from 'commander';
import { apiPath } from '../api/api-client.js';
import type { CliContext } from '../context.js';
import { idOption, intOption } from './option-parsers.js';

/** What GET /cases/{caseId}/files/{fileId}/similar answers (packages/api response-schemas.ts similarResultSchema). */
interface SimilarBody {
  fileId: string;
  hash: string | null;
  quality: number | null;
  /** The file's content kind; absent from older servers. */
  kind?: string | null;
  /** Every hash searched (one per contact-sheet frame of a video); absent from older servers. */
  frames?: Array<{ frame: number; hash: string; quality: number; timeMs?: number }>;
  maxDistance: number;
  scope: 'case' | 'assigned';
  caseIds: string[];
  method: 'mih' | 'scan' | null;
  items: Array<{
    sha256: string;
    frame: number;
    timeMs?: number;
    /** The content found is a video; absent from older servers. */
    video?: boolean;
    fromFrame?: number;
    fromTimeMs?: number;
    quality: number;
    distance: number;
    files: Array<{ fileId: string; caseId: string; evidenceId: string; path: string }>;
  }>;
}

/** `exhibit similar <case> <file>`: near-duplicate pictures by PDQ distance, through the API (recorded in custody). */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('similar')
    .description('files whose picture is within a PDQ distance of this file (resized or recompressed copies); a lead, not proof')
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<fileId>', 'file id, as `exhibit search` shows it')
    .option('--max-distance <bits>', 'largest Hamming distance of 256 bits (31: likely the same picture)', intOption(0, 256), 31)
    .option('--all-cases', 'search every case you are assigned to, not only this one')
    .option('--json', 'print the API response as JSON')
    .action(async (caseId: string, fileId: string, options: { maxDistance: number; allCases?: boolean; json?: boolean }) => {
      const api = await ctx.api();
      const body = await api.getJson<SimilarBody>(apiPath('cases', caseId, 'files', fileId, 'similar'), {
        query: { maxDistance: String(options.maxDistance), scope: options.allCases ? 'assigned' : 'case' },
        abortSignal: ctx.abortSignal,
      });
      ctx.stdout.write(options.json ? JSON.stringify(body, null, 2) + '\n' : renderSimilar(body));
    });
}

export function renderSimilar(body: SimilarBody): string {
  if (body.hash === null) return `${body.fileId}: no PDQ hash recorded (not a picture, or not decodable the reference's way)\n`;
  // By the file's kind: a video whose frames have no time (ffmpeg reported none) is still a video, not a picture.
  const video = body.kind === 'video' || (body.frames ?? []).some((f) => f.timeMs !== undefined);
  const lines = video
    ? [`PDQ of ${body.frames!.length} video frame(s) — within ${body.maxDistance} bits in ${body.caseIds.join(', ')}:`]
    : [`PDQ ${body.hash} quality ${body.quality} — within ${body.maxDistance} bits in ${body.caseIds.join(', ')}:`];
  for (const item of body.items) {
    // Which frames are near: of the searched video, and of the file found (when it is a video).
    const where = [
      video && item.fromFrame !== undefined ? `frame ${item.fromFrame}${at(item.fromTimeMs)}` : null,
      item.timeMs !== undefined || item.video === true ? `its frame ${item.frame}${at(item.timeMs)}` : null,
    ].filter((w): w is string => w !== null);
    for (const f of item.files) lines.push(`${String(item.distance).padStart(3)}  ${f.caseId}  ${f.fileId}  ${f.path}${where.length > 0 ? `  (${where.join(' ~ ')})` : ''}`);
  }
  if (body.items.length === 0) lines.push('  none');
  return lines.join('\n') + '\n';
}

const at = (ms: number | undefined) => (ms === undefined ? ', time unknown' : ` at ${(ms / 1000).toFixed(1)} s`);
