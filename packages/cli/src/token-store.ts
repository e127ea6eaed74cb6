import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const TOKEN_FILE_NAME = 'cli-token';

export function tokenPath(dataDir: string): string {
  return path.join(dataDir, TOKEN_FILE_NAME);
}

/** The token `exhibit login` stored, or undefined when there is none. */
export async function readToken(dataDir: string): Promise<string | undefined> {
  try {
    const text = (await readFile(tokenPath(dataDir), 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Stores the token readable by the owner only. Written to a temporary file
 * created with mode 0600 and renamed, so the token is never briefly readable
 * by others and a crash never leaves half a token.
 */
export async function writeToken(dataDir: string, token: string): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = tokenPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  // 'wx' creates the file afresh, so a leftover temp file cannot lend it a wider mode.
  await rm(tmp, { force: true });
  await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
  return file;
}
