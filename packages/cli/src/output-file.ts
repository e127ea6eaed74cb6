import { createHash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ExhibitError } from '@exhibit/core';
import { printable } from './render/format.js';

/** A file the command has created, empty, for output it has yet to fetch. */
export interface NewOutputFile {
  readonly path: string;
  /** Writes the content and closes the file; it is then kept. */
  write(bytes: Buffer): Promise<void>;
  /**
   * Streams a response body into the file, hashing it on the way, and closes
   * the file. It is kept only once the caller has checked the hash and called
   * keep(): a download or report that does not match its record is discarded.
   */
  stream(body: WebReadableStream<Uint8Array> | null, abortSignal: AbortSignal): Promise<{ bytes: number; sha256: string }>;
  /** Bytes stream() has written so far (also after it failed). */
  readonly bytesWritten: number;
  keep(): void;
  /** Closes and removes the file, unless write() completed or keep() was called. */
  discard(): Promise<void>;
}

/**
 * Creates `file` now, refusing one that exists. Commands call this before
 * any request: a view of evidence is recorded in the custody log, so a name
 * clash must stop the command before the API is asked, not after. Creating
 * (rather than checking) also keeps the name from being taken meanwhile.
 */
export async function createNewOutputFile(file: string, options: { mode?: number } = {}): Promise<NewOutputFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'wx', options.mode ?? 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ExhibitError('conflict', `${printable(file)} already exists; choose another name (nothing was fetched)`, { cause: err });
    if (code === 'ENOENT') throw new ExhibitError('invalid-argument', `cannot create ${printable(file)}: its folder does not exist`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new ExhibitError('forbidden', `cannot create ${printable(file)}: permission denied`, { cause: err });
    throw new ExhibitError('invalid-argument', `cannot create ${printable(file)}: ${(err as Error).message}`, { cause: err });
  }
  let kept = false;
  let bytesWritten = 0;
  return {
    path: file,
    get bytesWritten() {
      return bytesWritten;
    },
    async stream(body, abortSignal) {
      if (!handle) throw new Error(`${file} was already closed`);
      const h = handle;
      handle = undefined;
      const hash = createHash('sha256');
      const counting = new Transform({
        transform(chunk: Buffer, _enc, callback) {
          bytesWritten += chunk.length;
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      try {
        // The write stream closes the handle when it finishes (or fails).
        await pipeline(body ? Readable.fromWeb(body) : Readable.from([]), counting, h.createWriteStream({ flush: true }), { signal: abortSignal });
      } finally {
        await h.close().catch(() => undefined);
      }
      return { bytes: bytesWritten, sha256: hash.digest('hex') };
    },
    keep() {
      kept = true;
    },
    async write(bytes) {
      if (!handle) throw new Error(`${file} was already closed`);
      const h = handle;
      handle = undefined;
      try {
        await h.writeFile(bytes);
      } finally {
        await h.close();
      }
      kept = true;
    },
    async discard() {
      if (kept) return;
      const h = handle;
      handle = undefined;
      await h?.close().catch(() => undefined);
      await rm(file, { force: true });
    },
  };
}
