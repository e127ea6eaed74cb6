import type { Command } from 'commander';
import { ExhibitError } from '@exhibit/core';
import { apiPath } from '../api/api-client.js';
import type { FileDetailBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { createNewOutputFile } from '../output-file.js';
import { formatBytes, printable } from '../render/format.js';
import { formatFailure, renderFileDetail } from '../render/file.render.js';
import { idOption } from './option-parsers.js';
import { cliCommand } from '../cli-hint.js';

const FILE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description('everything recorded about one file: content, metadata, provenance')
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<fileId>', `file id (from ${cliCommand('search')})`)
    .option('--json', 'print the API response as JSON')
    .option('--thumbnail <out.jpg>', 'also save the thumbnail to this file (never overwrites)')
    .option('--preview <out.jpg>', "also save the image's embedded EXIF preview, as the file stores it, to this file (never overwrites)")
    .action(async (caseId: string, fileId: string, options: { json?: boolean; thumbnail?: string; preview?: string }) => {
      if (!FILE_ID_RE.test(fileId)) throw new ExhibitError('invalid-argument', `not a file id: ${JSON.stringify(fileId).slice(0, 80)}`);
      // Before any request: viewing a file is recorded in custody, so an existing output file must stop the command first.
      const out = options.thumbnail === undefined ? undefined : await createNewOutputFile(options.thumbnail);
      let previewOut: Awaited<ReturnType<typeof createNewOutputFile>> | undefined;
      try {
        previewOut = options.preview === undefined ? undefined : await createNewOutputFile(options.preview);
        const api = await ctx.api();
        const detail = await api.getJson<FileDetailBody>(apiPath('cases', caseId, 'files', fileId), { abortSignal: ctx.abortSignal });
        ctx.stdout.write(options.json ? JSON.stringify(detail, null, 2) + '\n' : renderFileDetail(detail));
        if (out) {
          const missing = whyNoThumbnail(detail);
          if (missing !== null) throw new ExhibitError('not-found', `no thumbnail for ${printable(detail.file.path)}: ${missing}`);
          const { bytes } = await api.getBytes(apiPath('cases', caseId, 'files', fileId, 'thumbnail'), { abortSignal: ctx.abortSignal });
          await out.write(bytes);
          ctx.stderr.write(`thumbnail saved to ${printable(out.path)} (${formatBytes(bytes.length)})\n`);
        }
        if (previewOut) {
          if (!detail.content?.embeddedPreview) {
            throw new ExhibitError('not-found', `no embedded EXIF preview kept for ${printable(detail.file.path)} (only JPEG/HEIC images that hold one, analysed since previews are kept)`);
          }
          const { bytes } = await api.getBytes(apiPath('cases', caseId, 'files', fileId, 'embedded-preview'), { abortSignal: ctx.abortSignal });
          await previewOut.write(bytes);
          ctx.stderr.write(`embedded preview saved to ${printable(previewOut.path)} (${formatBytes(bytes.length)})\n`);
        }
      } finally {
        await out?.discard();
        await previewOut?.discard();
      }
    });
}

/** Why a file has no thumbnail to save, from what the index recorded; null when it has one. */
export function whyNoThumbnail(detail: FileDetailBody): string | null {
  const { file, content } = detail;
  if (content?.thumbnailStatus === 'done' && content.thumbnail) return null;
  const failure = content?.failure ?? file.failure;
  if (content?.thumbnailStatus === 'failed') return `it could not be made (${failure ? formatFailure(failure) : 'no reason recorded'})`;
  if (file.stage === 'failed' && file.failure) return `processing failed (${formatFailure(file.failure)})`;
  if (file.entryKind !== 'file') return `it is a ${file.entryKind}, which has no content`;
  if (content?.thumbnailStatus === 'n/a') return `none is made for ${content.mime ?? content.kind ?? 'content of this type'}`;
  return `not made yet (stage ${file.stage}); run ${cliCommand(`status ${file.caseId}/${file.evidenceId}`)} to follow processing`;
}
