import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ExhibitError } from '@exhibit/core';
import { apiPath } from '../api/api-client.js';
import type { FileDetailBody } from '../api/api-types.js';
import type { CliContext } from '../context.js';
import { formatBytes, printable } from '../render/format.js';
import { renderFileDetail } from '../render/file.render.js';
import { idOption } from './option-parsers.js';

const FILE_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('show')
    .description('everything recorded about one file: content, metadata, provenance')
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<fileId>', 'file id (from `exhibit search`)')
    .option('--json', 'print the API response as JSON')
    .option('--thumbnail <out.jpg>', 'also save the thumbnail to this file (never overwrites)')
    .action(async (caseId: string, fileId: string, options: { json?: boolean; thumbnail?: string }) => {
      if (!FILE_ID_RE.test(fileId)) throw new ExhibitError('invalid-argument', `not a file id: ${JSON.stringify(fileId).slice(0, 80)}`);
      const api = await ctx.api();
      const detail = await api.getJson<FileDetailBody>(apiPath('cases', caseId, 'files', fileId), { abortSignal: ctx.abortSignal });
      ctx.stdout.write(options.json ? JSON.stringify(detail, null, 2) + '\n' : renderFileDetail(detail));
      if (options.thumbnail !== undefined) {
        const { bytes } = await api.getBytes(apiPath('cases', caseId, 'files', fileId, 'thumbnail'), { abortSignal: ctx.abortSignal });
        await writeNew(options.thumbnail, bytes);
        ctx.stderr.write(`thumbnail saved to ${printable(options.thumbnail)} (${formatBytes(bytes.length)})\n`);
      }
    });
}

async function writeNew(file: string, bytes: Buffer): Promise<void> {
  try {
    await writeFile(file, bytes, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ExhibitError('conflict', `${file} already exists; choose another name`, { cause: err });
    throw err;
  }
}
