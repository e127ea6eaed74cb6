import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MIGRATIONS_DIR } from '../src/index.js';

/**
 * A directory of some of the migrations, for tests of a migration on a
 * database made by the ones before it: copy those in, migrate, set up the old
 * state, copy the rest in, migrate again.
 */
export function partialMigrations(name: string) {
  const dir = mkdtempSync(path.join(tmpdir(), `exhibit-${name}-`));
  const all = readdirSync(new URL(MIGRATIONS_DIR)).filter((n) => n.endsWith('.sql'));
  return {
    url: pathToFileURL(dir + '/'),
    /** Copies in the migrations whose file names pass `pick`. */
    add(pick: (fileName: string) => boolean): void {
      for (const n of all.filter(pick)) cpSync(new URL(n, MIGRATIONS_DIR), path.join(dir, n));
    },
    dispose(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
