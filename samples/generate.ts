/**
 * Generates the sample case: `npm run samples` (or `tsx samples/generate.ts --out <dir>`).
 * Writes samples/extraction/<caseId>/<evidenceId>/<file> and samples/expected.json.
 * Needs ffmpeg (system or @ffmpeg-installer) and heif-enc (Debian libheif-examples).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_PLAN } from './lib/case.plan.js';
import type { SampleManifest } from './lib/manifest.types.js';
import { buildCase } from './lib/sample.builder.js';
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
  return manifest;
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const outDir = path.resolve(values.out ?? SAMPLES_DIR);
  const manifest = await generateSamples(outDir);
  const count = manifest.evidence.reduce((n, e) => n + e.files.length, 0);
  console.log(`wrote ${count} files in ${manifest.evidence.length} evidence items to ${outDir}`);
}
