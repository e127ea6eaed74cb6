import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { pgliteMemoryBytes } from './pglite-memory.js';
import { openPgliteDatabase } from './sql-client.js';

/** WebAssembly memory grows in pages of 64 KiB. */
const WASM_PAGE_BYTES = 65_536;

// Two PGlite opens, each compiling its 8.9 MB of WebAssembly: more than the unit tier's 20 s on a loaded 2-core machine.
describe('pgliteMemoryBytes (a real PGlite)', { timeout: 60_000 }, () => {
  it('is undefined before PGlite has loaded its module', async () => {
    const db = new PGlite();
    expect(pgliteMemoryBytes(db)).toBeUndefined();
    await db.waitReady;
    expect(pgliteMemoryBytes(db)).toBeGreaterThan(0);
    await db.close();
  });

  it('is the WebAssembly memory: whole pages, holding all of PostgreSQL\'s memory contexts, growing with a large sort', async () => {
    const db = await openPgliteDatabase('memory://');
    try {
      const before = pgliteMemoryBytes(db)!;
      expect(before % WASM_PAGE_BYTES).toBe(0);
      // PostgreSQL's own count of what its memory contexts hold: all of it lies in the linear memory.
      const contexts = await db.query<{ bytes: string }>('SELECT sum(total_bytes)::text AS bytes FROM pg_backend_memory_contexts');
      expect(Number(contexts.rows[0]!.bytes)).toBeGreaterThan(0);
      expect(before).toBeGreaterThan(Number(contexts.rows[0]!.bytes));

      // An in-memory sort of ~30 MB: more than PGlite's heap has free after its open.
      await db.exec("SET work_mem = '256MB'");
      await db.query("SELECT count(*) FROM (SELECT g::text || repeat('x', 100) AS t FROM generate_series(1, 200000) g ORDER BY 1 OFFSET 1) x");
      const after = pgliteMemoryBytes(db)!;
      expect(after).toBeGreaterThan(before);
      expect(after % WASM_PAGE_BYTES).toBe(0);
      // Freed by PostgreSQL, never given back: WebAssembly memory cannot shrink.
      await db.exec('RESET work_mem');
      await db.query('SELECT 1');
      expect(pgliteMemoryBytes(db)).toBe(after);
    } finally {
      await db.close();
    }
  });
});
