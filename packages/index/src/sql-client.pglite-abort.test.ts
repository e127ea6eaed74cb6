import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPgliteDatabase, thrownMessage } from './sql-client.pglite.js';

describe('what openPgliteDatabase says when PGlite aborts', () => {
  // PGlite (Emscripten) can abort by throwing a plain object; the message read `cannot open the embedded index: [object Object]`.
  it('pglite-abort-reported-as-object-Object', () => {
    expect(thrownMessage({ name: 'ExitStatus', message: 'Program terminated with exit(1)', status: 1 })).toBe('ExitStatus: Program terminated with exit(1): status 1');
    expect(thrownMessage({ status: 7 })).toBe('status 7');
    expect(thrownMessage({ code: 'XX000', detail: 'bad page' })).toBe('{"code":"XX000","detail":"bad page"}');
    const cyclic: Record<string, unknown> = { where: 'heap' };
    cyclic.self = cyclic;
    expect(thrownMessage(cyclic)).toBe('object with keys where, self');
    for (const v of [{ name: 'ExitStatus', status: 1 }, { status: 7 }, { code: 'XX000' }, cyclic]) expect(thrownMessage(v)).not.toMatch(/\[object Object\]/);
    expect(thrownMessage(new RangeError('out of memory'))).toBe('out of memory');
    expect(thrownMessage('aborted')).toBe('aborted');
  });

  // Not a regression test (PGlite throws an Error here, on main too): what a failure to open looks like end to end.
  it('opening a folder PGlite cannot start fails index-unavailable with its cause', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-pglite-abort-'));
    try {
      // Says it is a database (PG_VERSION) and holds nothing else: PGlite fails while starting.
      await writeFile(path.join(dir, 'PG_VERSION'), '17\n');
      const err = await openPgliteDatabase(dir).then(
        (db) => db.close().then(() => null),
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'index-unavailable' });
      expect((err as Error).message).toMatch(/^cannot open the embedded index: \S/);
      expect((err as Error).message).not.toMatch(/\[object Object\]/);
      expect((err as Error).cause).toBeDefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
