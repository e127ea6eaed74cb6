import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import type { DiskCorpusFile } from './disk-corpus.builder.js';

const run = promisify(execFile);

/**
 * One file of the bench's disk image, read with The Sleuth Kit (`ifind -n`
 * for its inode, `icat` for its bytes), so the work floor can sample the
 * image's own photos: the builder's staging folder is gone by then. The bytes
 * are checked against the manifest's SHA-256, so a wrong inode cannot pass
 * for the file.
 */
export async function readImageFile(image: string, file: DiskCorpusFile): Promise<Buffer> {
  const { stdout } = await run('ifind', ['-n', `/${file.path}`, image]);
  // ifind prints "File not found" and exits 0 when the path is not there.
  const inode = stdout.trim();
  if (!/^\d+$/.test(inode)) throw new Error(`ifind found no inode for ${file.path} in ${image}: ${JSON.stringify(inode.slice(0, 200))}`);
  // The manifest's size bounds what is read: a larger file is not this one, and is not read whole.
  const { stdout: bytes } = await run('icat', [image, inode], { encoding: 'buffer', maxBuffer: file.bytes + 1 }).catch((err: unknown) => {
    if ((err as { code?: unknown }).code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') throw err;
    throw new Error(`icat ${inode} gave more than the ${file.bytes} bytes the manifest has for ${file.path}`, { cause: err });
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== file.sha256) throw new Error(`icat ${inode} gave ${bytes.length} bytes with SHA-256 ${sha256}, not ${file.path}'s ${file.sha256}`);
  return bytes;
}
