import { open, rm, type FileHandle } from 'node:fs/promises';
import { ExhibitError } from '@exhibit/core';
import { printable } from './render/format.js';

/** A file the command has created, empty, for output it has yet to fetch. */
export interface NewOutputFile {
  readonly path: string;
  /** Writes the content and closes the file; it is then kept. */
  write(bytes: Buffer): Promise<void>;
  /** Closes and removes the file, unless write() completed. */
  discard(): Promise<void>;
}

/**
 * Creates `file` now, refusing one that exists. Commands call this before
 * any request: a view of evidence is recorded in the custody log, so a name
 * clash must stop the command before the API is asked, not after. Creating
 * (rather than checking) also keeps the name from being taken meanwhile.
 */
export async function createNewOutputFile(file: string): Promise<NewOutputFile> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ExhibitError('conflict', `${printable(file)} already exists; choose another name (nothing was fetched)`, { cause: err });
    if (code === 'ENOENT') throw new ExhibitError('invalid-argument', `cannot create ${printable(file)}: its folder does not exist`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new ExhibitError('forbidden', `cannot create ${printable(file)}: permission denied`, { cause: err });
    throw new ExhibitError('invalid-argument', `cannot create ${printable(file)}: ${(err as Error).message}`, { cause: err });
  }
  let kept = false;
  return {
    path: file,
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
