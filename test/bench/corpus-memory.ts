/**
 * npx tsx test/bench/corpus-memory.ts
 *
 * Peak memory of the local host while it processes the hostile and real-world
 * shaped files the tests are made of: the sample case, the regression corpus
 * (test/corpus) and the crafted hostile media (the same builders as
 * packages/media/src/hostile-files.test.ts), each uploaded as its own evidence
 * item. Prints the host's and Azurite's peaks (sampled every 100 ms, plus the
 * kernel's high-water mark) and how each item ended. A measurement, not a test:
 * the goal (host < 1 GiB) is read off the output, never asserted on timing.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeCorpus } from '../corpus/write-corpus.js';
import { allocateHostEnv, removeHostEnv, startHostProcess } from '../support/host-process.js';
import { ApiClient, readSampleManifest, uploadSamples, uploadWithPlainClient } from '../support/e2e-client.js';
import { ascii, buildExif, TAGS } from '../../packages/media/src/test-support/exif.builder.js';
import * as hostile from '../../packages/media/src/test-support/hostile.builders.js';
import { startMemorySampler } from './process-memory.sampler.js';

/** The crafted hostile media of hostile-files.test.ts, named after what each attacks. */
function hostileFiles(): Array<[string, Buffer]> {
  return [
    ['heic-zero-length-box-after-ftyp.heic', hostile.heicZeroLengthBoxAfterFtyp()],
    ['heic-self-referencing-meta.heic', hostile.heicSelfReferencingMeta()],
    ['heic-100000-tiny-boxes-before-meta.heic', hostile.heicManyTinyBoxesBeforeMeta(100_000)],
    ['tiff-ifd-loop-back-to-ifd0.tif', hostile.tiffIfdLoopBackToIfd0()],
    ['tiff-huge-value-counts.tif', hostile.tiffHugeValueCounts()],
    ['tiff-overlapping-value-arrays.tif', hostile.tiffOverlappingValueArrays(200, 7000)],
    ['jpeg-200000-app-segments-before-exif.jpg', hostile.jpegManyAppSegmentsBeforeExif(200_000, buildExif({ ifd0: { [TAGS.Make]: ascii('Deep') } }))],
  ];
}

const MiB = 1024 * 1024;
const CASE = 'MEM-CORPUS';

async function main(): Promise<void> {
  const h = await allocateHostEnv();
  const host = await startHostProcess(h);
  const sampler = startMemorySampler(host.child.pid!);
  const corpusDir = path.join(os.tmpdir(), `exhibit-corpus-${process.pid}`);
  try {
    const manifest = await readSampleManifest();
    await uploadSamples(h.storageConnectionString, manifest);
    const files = await writeCorpus(corpusDir);
    for (const file of files) {
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/CORPUS/${path.basename(file)}`, await readFile(file), { examiner: 'bench' });
    }
    for (const [name, bytes] of hostileFiles()) {
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/HOSTILE/${name}`, bytes, { examiner: 'bench' });
    }
    const admin = await ApiClient.login(h, 'ada', ['admin']);
    for (const caseId of [manifest.caseId, CASE]) {
      await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'sam', role: 'supervisor' }).catch(() => undefined);
    }
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);
    const started = Date.now();
    const sample = await sam.waitComplete(manifest.caseId, manifest.evidence.map((e) => e.evidenceId), 600_000);
    const corpus = await sam.waitComplete(CASE, ['CORPUS', 'HOSTILE'], 600_000);
    const peaks = sampler.stop();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const line = (label: string, s: any) =>
      `  ${label}: ${s.files.total} files, ${s.files.byStage.indexed} indexed, ${s.files.byStage.failed} failed, ${s.findings.length} findings, complete=${s.complete}`;
    process.stdout.write(
      [
        `processed in ${seconds} s (${(await readdir(corpusDir)).length} corpus files, ${hostileFiles().length} hostile files and the sample case)`,
        ...Object.entries(sample).map(([id, s]) => line(`${manifest.caseId}/${id}`, s)),
        line(`${CASE}/CORPUS`, corpus.CORPUS),
        line(`${CASE}/HOSTILE`, corpus.HOSTILE),
        `host peak RSS ${(peaks.hostPeakRssBytes / MiB).toFixed(0)} MiB (VmHWM ${peaks.hostHwmBytes === null ? '?' : (peaks.hostHwmBytes / MiB).toFixed(0)} MiB)`,
        `azurite peak RSS ${(peaks.azuritePeakRssBytes / MiB).toFixed(0)} MiB; tools peak ${(peaks.toolsPeakRssBytes / MiB).toFixed(0)} MiB; whole tree ${(peaks.treePeakRssBytes / MiB).toFixed(0)} MiB`,
        '',
      ].join('\n'),
    );
  } finally {
    sampler.stop();
    await host.stop();
    await removeHostEnv(h);
    await rm(corpusDir, { recursive: true, force: true });
  }
}

await main();
