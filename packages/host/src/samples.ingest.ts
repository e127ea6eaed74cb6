import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReadStream } from 'node:fs';
import { evidenceBlobName, type BlobStore, type Logger } from '@exhibit/core';
import { ACQUISITION_METADATA_KEYS } from '@exhibit/pipeline';

export const SAMPLES_DIR = fileURLToPath(new URL('../../../samples/', import.meta.url));

export interface SampleManifest {
  caseId: string;
  evidence: Array<{
    evidenceId: string;
    uploads: Array<{ fileName: string; sha256: string; md5: string; sha1: string; size: number }>;
    files: unknown[];
  }>;
}

export async function readSampleManifest(samplesDir = SAMPLES_DIR): Promise<SampleManifest> {
  return JSON.parse(await readFile(path.join(samplesDir, 'expected.json'), 'utf8')) as SampleManifest;
}

/**
 * Uploads the bundled sample extraction the way an examiner would, with the
 * acquisition hashes from the manifest, unless it is already there. The
 * uploader is a separate, writable store: the pipeline's own is read-only.
 */
export async function ingestSamples(
  uploader: BlobStore,
  container: string,
  logger: Logger,
  samplesDir = SAMPLES_DIR,
): Promise<{ manifest: SampleManifest; uploaded: number }> {
  const manifest = await readSampleManifest(samplesDir);
  let uploaded = 0;
  for (const ev of manifest.evidence) {
    for (const up of ev.uploads) {
      const file = path.join(samplesDir, 'extraction', manifest.caseId, ev.evidenceId, up.fileName);
      const size = (await stat(file)).size;
      const name = evidenceBlobName(manifest.caseId, ev.evidenceId, up.fileName);
      const result = await uploader.upload({ container, name }, size <= 8 * 1024 * 1024 ? await readFile(file) : createReadStream(file), {
        ifNotExists: true,
        metadata: {
          [ACQUISITION_METADATA_KEYS.examiner]: 'sample-generator',
          [ACQUISITION_METADATA_KEYS.exhibitRef]: `${ev.evidenceId}`,
          [ACQUISITION_METADATA_KEYS.description]: encodeURIComponent('Bundled generated sample extraction'),
          [ACQUISITION_METADATA_KEYS.md5]: up.md5,
          [ACQUISITION_METADATA_KEYS.sha1]: up.sha1,
          [ACQUISITION_METADATA_KEYS.sha256]: up.sha256,
        },
      });
      if (result.created) uploaded += 1;
    }
  }
  if (uploaded > 0) logger.info({ uploaded, caseId: manifest.caseId }, 'sample extraction uploaded');
  return { manifest, uploaded };
}
