import type { PGlite } from '@electric-sql/pglite';

/**
 * The size in bytes of PGlite's WebAssembly memory, or undefined where PGlite
 * has no module loaded. PGlite exposes no public accessor for it: its
 * Emscripten module (`mod`) is protected in its types, and that module's HEAP8
 * spans the whole WebAssembly linear memory. The memory only grows
 * (WebAssembly has no way to shrink it), so this is the high-water mark of
 * PostgreSQL's heap in the process. The one place that reaches behind PGlite's
 * types for it, for the index process's memory log and the wire server's
 * growth log.
 */
export function pgliteMemoryBytes(db: PGlite): number | undefined {
  return (db as unknown as { mod?: { HEAP8?: Int8Array } }).mod?.HEAP8?.byteLength;
}
