/**
 * Generates the sample case: `npm run samples` (or `tsx samples/generate.ts --out <dir>`).
 * Writes samples/extraction/<caseId>/<evidenceId>/<file>, samples/expected.json and
 * samples/hash-sets/ (made from the case's files). `--hash-sets-only` writes only the
 * hash sets, from the committed uploads.
 * Needs ffmpeg (system or @ffmpeg-installer) and heif-enc (Debian libheif-examples).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_PLAN } from './lib/case.plan.js';
import type { SampleManifest } from './lib/manifest.types.js';
import { writeSampleHashSets } from './lib/hash-sets.writer.js';
import { buildCase } from './lib/sample.builder.js';
import { walkUpload } from './lib/sample.reader.js';
import { findTools } from './lib/tools.js';

export const SAMPLES_DIR = path.dirname(fileURLToPath(import.meta.url));

/** Writes the case under `outDir` (replacing an earlier run's case directory) and returns the manifest. */
export async function generateSamples(outDir: string): Promise<SampleManifest> {
  const tools = await findTools();
  const { manifest, uploads } = await buildCase(CASE_PLAN, tools);
  const caseDir = path.join(outDir, 'extraction', CASE_PLAN.caseId);
  await rm(caseDir, { recursive: true, force: true });
  for (const [blobName, bytes] of uploads) {
    const file = path.join(outDir, 'extraction', ...blobName.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, bytes);
  }
  await writeFile(path.join(outDir, 'expected.json'), JSON.stringify(manifest, null, 2) + '\n');
  await writeSampleHashSets(outDir, await caseFiles(uploads));
  return manifest;
}

/** The committed uploads by blob name (<caseId>/<evidenceId>/<file name>). */
export async function committedUploads(samplesDir: string): Promise<Map<string, Buffer>> {
  const manifest = JSON.parse(await readFile(path.join(samplesDir, 'expected.json'), 'utf8')) as SampleManifest;
  const uploads = new Map<string, Buffer>();
  for (const ev of manifest.evidence) {
    for (const up of ev.uploads) {
      uploads.set(`${manifest.caseId}/${ev.evidenceId}/${up.fileName}`, await readFile(path.join(samplesDir, 'extraction', manifest.caseId, ev.evidenceId, up.fileName)));
    }
  }
  return uploads;
}

/** Every file of the case (archive members too) by its display path, read back from the uploads. */
export async function caseFiles(uploads: ReadonlyMap<string, Buffer>): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const [blobName, bytes] of uploads) {
    const fileName = blobName.split('/').slice(2).join('/');
    for (const e of await walkUpload(fileName, bytes)) if (e.type === 'file' && e.bytes) files.set(e.path, e.bytes);
  }
  return files;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'hash-sets-only': { type: 'boolean' } } });
  const outDir = path.resolve(values.out ?? SAMPLES_DIR);
  if (values['hash-sets-only']) {
    // Only the hash sets, from the committed uploads (the case itself is not regenerated).
    const written = await writeSampleHashSets(outDir, await caseFiles(await committedUploads(SAMPLES_DIR)));
    console.log(`wrote ${written.join(', ')} to ${path.join(outDir, 'hash-sets')}`);
    process.exit(0);
  }
  const manifest = await generateSamples(outDir);
  const count = manifest.evidence.reduce((n, e) => n + e.files.length, 0);
  console.log(`wrote ${count} files in ${manifest.evidence.length} evidence items to ${outDir}`);
}
