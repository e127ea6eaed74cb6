import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InvalidArgumentError, type Command } from 'commander';
import { ExhibitError } from '@exhibit/core';
import { apiPath } from '../api/api-client.js';
import { CliError } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { createNewOutputFile } from '../output-file.js';
import { renderDownloadResult } from '../render/access.render.js';
import { idOption } from './option-parsers.js';

const SHA256_RE = /^[0-9a-f]{64}$/;

function fileIdOption(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(value)) throw new InvalidArgumentError('not a file id (as `exhibit search` shows it)');
  return value;
}

export interface DownloadResult {
  caseId: string;
  fileId: string;
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * `exhibit download <case> <file> -o <path>`: the file's bytes, exactly, from
 * the API (which reads only that file's bytes, even for a photo inside a
 * phone's ZIP, and records the download in custody). The output file is
 * created first, exclusively, so an existing file is refused before anything
 * is asked of the API (and so before anything is recorded); it is removed
 * again if the bytes do not arrive whole with the recorded SHA-256.
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('download')
    .description("save one file's bytes (examiners and supervisors); checks the SHA-256 against the recorded one; recorded in custody")
    .argument('<caseId>', 'case id', idOption('case'))
    .argument('<fileId>', 'file id, as `exhibit search` shows it', fileIdOption)
    .requiredOption('-o, --output <path>', 'where to save it (never overwritten)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit codes: 0 saved and verified, 1 failed (nothing kept), 2 usage, 3 the bytes did not match the recorded SHA-256 (nothing kept).')
    .action(async (caseId: string, fileId: string, options: { output: string; json?: boolean }) => {
      const result = await downloadFile(ctx, caseId, fileId, options.output);
      ctx.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : renderDownloadResult(result));
    });
}

export async function downloadFile(ctx: CliContext, caseId: string, fileId: string, output: string): Promise<DownloadResult> {
  // Evidence bytes: readable by the examiner only.
  const file = await createNewOutputFile(output, { mode: 0o600 });
  try {
    const api = await ctx.api();
    const res = await api.openStream(apiPath('cases', caseId, 'files', fileId, 'content'), { abortSignal: ctx.abortSignal });
    const recorded = res.headers.get('x-exhibit-sha256') ?? '';
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (!SHA256_RE.test(recorded) || !Number.isSafeInteger(declared)) {
      throw new ExhibitError('invalid-argument', 'the API did not say the size and SHA-256 of the file; is it an Exhibit API?');
    }
    let saved;
    try {
      saved = await file.stream(res.body as WebReadableStream<Uint8Array> | null, ctx.abortSignal);
    } catch (err) {
      if (ctx.abortSignal.aborted) throw new ExhibitError('aborted', 'interrupted; nothing was kept', { cause: err });
      throw new CliError(
        'api-error',
        `the download stopped after ${file.bytesWritten} of ${declared} bytes: the API cuts a file off when its bytes do not match the recorded SHA-256, or the connection broke; nothing was kept`,
        undefined,
        { cause: err },
      );
    }
    const { bytes, sha256: actual } = saved;
    if (bytes !== declared || actual !== recorded) {
      throw new ExhibitError('hash-mismatch', `received ${bytes} bytes with SHA-256 ${actual}; the recorded file has ${declared} bytes, SHA-256 ${recorded}; nothing was kept`, {
        details: { expectedSha256: recorded, actualSha256: actual, expectedBytes: declared, bytes },
      });
    }
    file.keep();
    return { caseId, fileId, file: output, bytes, sha256: actual };
  } finally {
    await file.discard();
  }
}
