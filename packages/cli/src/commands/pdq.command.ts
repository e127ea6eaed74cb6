import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { errorMessage } from '@exhibit/core';
import { EXIT } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** Larger files are refused unread, as the thumbnail stage refuses them (MEDIA_LIMITS.maxImageSourceBytes). */
const MAX_IMAGE_BYTES = 256 * 1024 * 1024;

/**
 * `exhibit pdq <image files…>`: PDQ hashes of local pictures, one line per
 * file in the layout of Meta's reference tool (`<hash>,<quality>,<path>`), so
 * examiners can share them with partner agencies. Same code as the pipeline
 * (packages/media/src/pdq), bit-exact with the reference (docs/pdq.md).
 * A file that cannot be read or decoded is reported on stderr and the rest
 * are still hashed; the exit status is then 1. (The reference tool prints an
 * all-zero hash for such a file, which looks like a result; this never does.)
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('pdq')
    .description('PDQ perceptual hashes of local image files: "<64-hex hash>,<quality 0-100>,<path>" per file, as Meta\'s pdq-photo-hasher prints them')
    .argument('<files...>', 'image files (JPEG, PNG, WebP, TIFF, GIF, HEIC/AVIF)')
    .option('--dihedral', 'print the 8 rotation/mirror hashes on one line, as pdq-photo-hasher --pdqdih-across: original, rot90, rot180, rot270, flipx, flipy, flipp, flipm, quality, path')
    .action(async (files: string[], options: { dihedral?: boolean }) => {
      const { pdqFromImage, pdqDihedralFromImage } = await import('@exhibit/media');
      for (const file of files) {
        ctx.abortSignal.throwIfAborted();
        let line: string;
        try {
          const bytes = await readImage(file);
          const abort = { abortSignal: ctx.abortSignal };
          if (options.dihedral) {
            const d = await pdqDihedralFromImage(bytes, abort);
            line = [d.original, d.rotate90, d.rotate180, d.rotate270, d.flipX, d.flipY, d.flipPlus1, d.flipMinus1, d.quality, file].join(',');
          } else {
            const { hash, quality } = await pdqFromImage(bytes, abort);
            line = `${hash},${quality},${file}`;
          }
        } catch (err) {
          if (ctx.abortSignal.aborted) throw err;
          ctx.stderr.write(`exhibit pdq: ${file}: ${errorMessage(err)}\n`);
          ctx.setExitCode(EXIT.error);
          continue;
        }
        ctx.stdout.write(line + '\n');
      }
    });
}

async function readImage(file: string): Promise<Buffer> {
  const info = await stat(file);
  if (!info.isFile()) throw new Error('not a regular file');
  if (info.size > MAX_IMAGE_BYTES) throw new Error(`${info.size} bytes is more than the ${MAX_IMAGE_BYTES} bytes an image may have`);
  return readFile(file);
}
