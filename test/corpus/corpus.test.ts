/**
 * The regression corpus through Exhibit's own reading (identify, then the
 * media package's metadata extractor, as the pipeline does), compared with
 * what a correct extractor must report, using the validator's comparison.
 * Cases in KNOWN_FAILURES are what today's main gets wrong: they run as
 * `it.fails` until their fix is merged and the entry is deleted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitReader } from '../validate/exhibit.extraction.js';
import { exhibitValues, show, verdictOf } from '../validate/fields.compare.js';
import { CORPUS, KNOWN_FAILURES, type CorpusCase } from './corpus.cases.js';

let dir: string;
const reader = new ExhibitReader();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'exhibit-corpus-'));
  for (const c of CORPUS) await writeFile(path.join(dir, c.name), await c.build());
}, 120_000);

afterAll(async () => {
  await reader.close();
  await rm(dir, { recursive: true, force: true });
});

/** Every asserted field that Exhibit gets wrong, as "field: exhibit … expected …". */
async function misses(c: CorpusCase): Promise<string[]> {
  const reading = await reader.read(path.join(dir, c.name));
  const exhibit = exhibitValues(reading.identification, reading.metadata);
  const out: string[] = [];
  for (const field of c.fields) {
    const verdict = verdictOf(field, exhibit, c.expected, true);
    if (verdict !== 'agree' && verdict !== 'both-absent') {
      out.push(`${field} [${verdict}]: exhibit ${show(field, exhibit[field])}, expected ${show(field, c.expected[field])}`);
    }
  }
  if (reading.error && out.length > 0) out.push(`(exhibit: ${reading.error.code}: ${reading.error.message})`);
  return out;
}

describe('regression corpus: Exhibit reports what a correct extractor must', () => {
  it('names every known failure after a case that exists', () => {
    const names = new Set(CORPUS.map((c) => c.name));
    expect(Object.keys(KNOWN_FAILURES).filter((n) => !names.has(n))).toEqual([]);
    expect(names.size).toBe(CORPUS.length);
  });

  for (const c of CORPUS) {
    const known = KNOWN_FAILURES[c.name];
    // it.fails: today's main gets this case wrong (the reason is in KNOWN_FAILURES); it passes once the fix lands.
    const test = known ? it.fails : it;
    test(`${c.name}${known ? ` — known failure: ${known}` : ''}`, async () => {
      expect(await misses(c)).toEqual([]);
    });
  }
});
