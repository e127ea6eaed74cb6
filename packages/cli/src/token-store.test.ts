import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readToken, tokenPath, writeToken } from './token-store.js';

describe('token store', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes the token readable by the owner only and reads it back; none yet is undefined', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-token-'));
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    expect(await readToken(dataDir)).toBeUndefined();
    const file = await writeToken(dataDir, 'header.payload.signature');
    expect(file).toBe(tokenPath(dataDir));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readToken(dataDir)).toBe('header.payload.signature');
    await writeToken(dataDir, 'second');
    expect(await readToken(dataDir)).toBe('second');
  });
});
