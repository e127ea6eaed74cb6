/**
 * npx tsx test/corpus/write-corpus.ts <dir>
 *
 * Writes the regression corpus (corpus.cases.ts) into <dir>, plus
 * expected.json with what a correct extractor must report for each file,
 * so that `npm run validate -- <dir>` can be run on it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CORPUS, KNOWN_FAILURES } from './corpus.cases.js';

/** Builds every case into `dir`; returns the paths written. */
export async function writeCorpus(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const c of CORPUS) {
    const file = path.join(dir, c.name);
    await writeFile(file, await c.build());
    written.push(file);
  }
  return written;
}

/** The manifest as JSON: per file, the failure it catches, the asserted fields and their expected values. */
export function corpusManifest(): unknown {
  return CORPUS.map((c) => ({
    name: c.name,
    catches: c.catches,
    fields: c.fields,
    expected: c.expected,
    ...(KNOWN_FAILURES[c.name] ? { knownFailure: KNOWN_FAILURES[c.name] } : {}),
  }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx test/corpus/write-corpus.ts <dir>\n');
    process.exit(2);
  }
  const files = await writeCorpus(dir);
  // Outside <dir>, so that validating <dir> does not read the manifest as a file.
  const manifest = `${path.resolve(dir)}.expected.json`;
  await writeFile(manifest, `${JSON.stringify(corpusManifest(), null, 2)}\n`);
  process.stdout.write(`wrote ${files.length} files to ${dir} and the expected values to ${manifest}\n`);
}
