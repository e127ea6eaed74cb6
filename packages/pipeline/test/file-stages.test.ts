import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  createRootLogger,
  ExhibitError,
  LIMITS,
  rootFileId,
  type FileIdentifier,
  type FileMessage,
  type FileRecord,
  type MetadataExtractor,
  type StageOutcome,
  type Thumbnailer,
} from '@exhibit/core';
import { countingSqlClient, createPostgresIndex, openSqlClient } from '@exhibit/index';
import { createAzureBlobStore } from '@exhibit/storage';
import { recordCompletionIfDone } from '../src/completion.js';
import { identifyStage } from '../src/identify.stage.js';
import { indexStage } from '../src/index.stage.js';
import { metadataStage } from '../src/metadata.stage.js';
import type { Stage, StageContext, StageDeps } from '../src/stage.js';
import { thumbnailStage } from '../src/thumbnail.stage.js';
import { RecordingBus, RecordingCustody, limitsWith } from './fixtures/archives/unpack-harness.js';

/**
 * The per-file stages (identify, metadata, thumbnail, index) against a real
 * index (PGlite) and real blob storage (Azurite). The media adapters are
 * stand-ins that answer from the bytes' first word, so each path (mismatch,
 * failure, EXIF preview, archive) is chosen by the test; the real ones are
 * tested in @exhibit/media and end to end.
 */


const TYPES: Record<string, { mime: string; detectedExt: string; kind: 'image' | 'archive' | 'document' }> = {
  JPEG: { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image' },
  PK: { mime: 'application/zip', detectedExt: 'zip', kind: 'archive' },
  TEXT: { mime: 'text/plain', detectedExt: 'txt', kind: 'document' },
};
const tag = (bytes: Buffer) => bytes.toString('latin1').split(' ')[0] ?? '';
const readAll = (source: { size: number; read(offset: number, length: number): Promise<Buffer> }) => source.read(0, source.size);

const identifier: FileIdentifier = {
  tools: async () => [{ name: 'stand-in-identifier', version: '1' }],
  identify: async (source) => {
    const type = TYPES[tag(await source.read(0, 64))];
    return type ? { ...type, findings: [] } : { mime: null, detectedExt: null, kind: 'other', findings: [{ flag: 'unidentified', detail: 'no known file signature in the test' }] };
  },
  extensionMismatch: (name, id) => id.detectedExt !== null && !name.endsWith(`.${id.detectedExt}`),
};

const metadata: MetadataExtractor = {
  tools: async () => [{ name: 'stand-in-metadata', version: '1' }],
  image: async (source) => {
    const bytes = await readAll(source);
    if (bytes.includes('BROKEN')) throw new ExhibitError('corrupt-file', 'no end of EXIF segment');
    if (bytes.includes('NULLISLAND')) {
      return {
        make: 'Canon',
        gpsRecorded: { lat: 0, lon: 0, flag: 'gps-null-island' },
        partial: ['tiff: Invalid TIFF value type'],
        findings: [
          { flag: 'gps-null-island', detail: 'GPS position recorded as 0,0 (no fix); not used as a location' },
          { flag: 'metadata-partial', detail: 'metadata read only in part: tiff: Invalid TIFF value type' },
        ],
        raw: { Make: 'Canon' },
      };
    }
    return { make: 'Canon', width: 4, height: 3, raw: { Make: 'Canon' } };
  },
  video: async () => {
    throw new ExhibitError('unsupported-format', 'no videos here');
  },
};

const thumbnailer: Thumbnailer = {
  tools: async () => [{ name: 'stand-in-thumbnailer', version: '1' }],
  recipe: 'test',
  image: async (source) => {
    const bytes = await readAll(source);
    const findings = bytes.includes('FLAT') ? [{ flag: 'no-content' as const, detail: 'the decoded image is one flat colour (rgb 128,128,128)' }] : [];
    return { jpeg: Buffer.from('thumb'), width: 4, height: 3, from: bytes.includes('PREVIEW') ? 'exif-preview' : 'image', findings };
  },
  video: async () => {
    throw new ExhibitError('unsupported-format', 'no videos here');
  },
};

const counter = { statements: 0 };
let deps: StageDeps;
let bus: RecordingBus;
let custody: RecordingCustody;
let close: () => Promise<void>;

beforeAll(async () => {
  const blobs = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
  const suffix = randomBytes(4).toString('hex');
  const containers = { evidence: `evidence-${suffix}`, derived: `derived-${suffix}` };
  await blobs.ensureContainer(containers.evidence);
  await blobs.ensureContainer(containers.derived);
  const index = createPostgresIndex(countingSqlClient(await openSqlClient({ kind: 'pglite', dataDir: 'memory://' }), counter));
  await index.migrate();
  bus = new RecordingBus();
  custody = new RecordingCustody();
  deps = { blobs, bus, index, custody, identifier, metadata, thumbnailer, containers, limits: LIMITS, pipelineVersion: 'test' };
  close = () => index.close();
});

afterAll(async () => {
  await close?.();
});

beforeEach(() => {
  deps.limits = LIMITS;
});

/** A fresh context per delivery, as the runtime makes one per message. */
const newCtx = (): StageContext => ({ logger: createRootLogger({ level: 'silent' }), messageId: randomBytes(4).toString('hex'), deliveryCount: 1 });

const ev = () => ({ caseId: 'case-1', evidenceId: `ev-${randomBytes(4).toString('hex')}` });

/** Uploads `text` as evidence and records it as the hash stage leaves it: hashed, content known, file pending. */
async function addUpload(ref: { caseId: string; evidenceId: string }, fileName: string, text: string): Promise<FileMessage> {
  const data = Buffer.from(text);
  const blobName = `${ref.caseId}/${ref.evidenceId}/${fileName}`;
  const source = { container: deps.containers.evidence, name: blobName };
  await deps.blobs.upload(source, data);
  const h = (alg: string) => createHash(alg).update(data).digest('hex');
  const hashes = { md5: h('md5'), sha1: h('sha1'), sha256: h('sha256') };
  const fileId = rootFileId(blobName);
  await deps.index.recordUpload({
    ...ref,
    blobName,
    fileName,
    rootFileId: fileId,
    size: data.length,
    etag: '"0x1"',
    versionId: null,
    contentType: null,
    lastModified: '2024-05-01T10:00:00.000Z',
    acquisition: {},
  });
  const dot = fileName.lastIndexOf('.');
  await deps.index.insertFiles([
    {
      ...ref,
      fileId,
      parentId: null,
      entryIndex: null,
      depth: 0,
      path: fileName,
      recordedName: fileName,
      name: fileName,
      extension: dot > 0 ? fileName.slice(dot + 1) : null,
      entryKind: 'file',
      size: data.length,
      sha256: hashes.sha256,
      source,
      archiveTimes: {},
      flags: [],
      stage: 'pending',
      failure: null,
    },
  ]);
  await deps.index.recordUploadHashes(blobName, hashes, 'no-reference', []);
  await deps.index.ensureContent({ ...hashes, size: data.length, source });
  return { ...ref, fileId };
}

/** Runs one stage as the runtime does (the index stage checks completion itself; the runtime checks after a failure) and counts its statements. */
async function run(stage: Stage<FileMessage>, message: FileMessage): Promise<{ outcome: StageOutcome; statements: number }> {
  const before = counter.statements;
  const ctx = newCtx();
  const outcome = await stage(deps, message, ctx);
  if (stage !== indexStage && outcome.status === 'failed') await recordCompletionIfDone(deps, message, ctx);
  return { outcome, statements: counter.statements - before };
}

async function file(message: FileMessage): Promise<FileRecord> {
  const got = await deps.index.getFile(message.fileId);
  if (!got) throw new Error(`no file ${message.fileId}`);
  return got;
}

const completions = (ref: { evidenceId: string }) => custody.events.filter((e) => e.action === 'processing-complete' && e.evidenceId === ref.evidenceId);

describe('per-file stages', () => {
  it('cost one read and one write each, and the last file completes the evidence item', async () => {
    const ref = ev();
    const a = await addUpload(ref, 'a.jpg', 'JPEG photo a');
    const b = await addUpload(ref, 'b.jpg', 'JPEG photo b');

    for (const m of [a, b]) {
      expect(await run(identifyStage, m)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
      expect(await run(metadataStage, m)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
      expect(await run(thumbnailStage, m)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    }
    // b is still open: a's own move says so, and no completion probe follows.
    // The move, and the hash-set match of the file's content (docs/known-files.md).
    expect(await run(indexStage, a)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(completions(ref)).toHaveLength(0);
    await run(indexStage, b);
    expect(completions(ref)).toHaveLength(1);
    expect(completions(ref)[0]?.details).toMatchObject({ files: 2, failures: 0 });

    const got = await deps.index.getFileWithContent(a.fileId);
    expect(got?.file).toMatchObject({ stage: 'indexed', flags: [] });
    expect(got?.content).toMatchObject({ kind: 'image', metadataStatus: 'done', thumbnailStatus: 'done', thumbnailSource: 'image' });
    expect(bus.ids('index')).toEqual(expect.arrayContaining([a.fileId, b.fileId].map((id) => expect.stringContaining(id))));
  });

  it('leaves everything as it was when every message is delivered again', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'again.jpg', 'JPEG again');
    for (const stage of [identifyStage, metadataStage, thumbnailStage, indexStage]) await run(stage, m);
    const before = await deps.index.getFileWithContent(m.fileId);
    expect(completions(ref)).toHaveLength(1);

    for (const stage of [identifyStage, metadataStage, thumbnailStage]) {
      expect((await run(stage, m)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    }
    const index = await run(indexStage, m);
    expect(index.outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(await deps.index.getFileWithContent(m.fileId)).toEqual(before);
    expect(completions(ref)).toHaveLength(1);
    // A message naming another evidence item touches nothing.
    expect((await run(indexStage, { ...m, evidenceId: 'someone-else' })).outcome).toEqual({ status: 'skipped', reason: 'unknown-subject' });
  });

  it('records a metadata failure on the content and still makes the thumbnail', async () => {
    const ref = ev();
    const first = await addUpload(ref, 'broken.jpg', 'JPEG BROKEN');
    const copy = await addUpload(ref, 'copy.jpg', 'JPEG BROKEN');
    await run(identifyStage, first);
    const failedRun = await run(metadataStage, first);
    // One write, plus the completion probe the runtime makes after any failed outcome.
    expect(failedRun).toMatchObject({ outcome: { status: 'failed', code: 'corrupt-file' }, statements: 3 });
    // The file goes on: a thumbnail does not need the metadata.
    expect(await file(first)).toMatchObject({ stage: 'described', failure: null });
    expect(bus.ids('thumbnail')).toContainEqual(expect.stringContaining(first.fileId));
    expect((await deps.index.getFileWithContent(first.fileId))?.content).toMatchObject({
      metadataStatus: 'failed',
      failure: { stage: 'metadata', code: 'corrupt-file', detail: 'no end of EXIF segment' },
    });
    expect(await run(thumbnailStage, first)).toMatchObject({ outcome: { status: 'done' } });
    await run(indexStage, first);
    expect(await file(first)).toMatchObject({ stage: 'indexed' });

    // The same bytes elsewhere take the recorded failure without a second analysis, and go on too.
    await run(identifyStage, copy);
    expect((await run(metadataStage, copy)).outcome).toEqual({ status: 'skipped', reason: 'already-analysed' });
    await run(thumbnailStage, copy);
    await run(indexStage, copy);
    expect(completions(ref)).toHaveLength(1);

    // Status shows the failure at both occurrences, with the recorded reason.
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.failures.map((f) => [f.path, f.stage, f.code, f.detail])).toEqual([
      ['broken.jpg', 'metadata', 'corrupt-file', 'no end of EXIF segment'],
      ['copy.jpg', 'metadata', 'corrupt-file', 'no end of EXIF segment'],
    ]);
    expect(status?.stages.metadata).toEqual({ done: 0, failed: 2, pending: 0 });
    expect(status?.stages.thumbnail).toEqual({ done: 2, failed: 0, pending: 0 });
    for (const stage of [identifyStage, metadataStage, thumbnailStage, indexStage]) {
      expect((await run(stage, first)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    }
  });

  it('shows an unidentified file and findings about its bytes in status, at every occurrence', async () => {
    const ref = ev();
    const blob = await addUpload(ref, 'carved.bin', 'QQQQ no signature here');
    expect(await run(identifyStage, blob)).toMatchObject({ outcome: { status: 'done', summary: { mime: null, next: ['index'] } }, statements: 2 });
    await run(indexStage, blob);
    const flat = await addUpload(ref, 'grey.jpg', 'JPEG FLAT');
    const flatCopy = await addUpload(ref, 'grey-copy.jpg', 'JPEG FLAT');
    for (const m of [flat, flatCopy]) for (const stage of [identifyStage, metadataStage, thumbnailStage, indexStage]) await run(stage, m);

    expect((await deps.index.getFileWithContent(blob.fileId))?.content?.findings).toEqual([
      { flag: 'unidentified', detail: 'no known file signature in the test' },
    ]);
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.complete).toBe(true);
    expect(status?.findings.map((f) => [f.path, f.flag, f.detail])).toEqual([
      ['carved.bin', 'unidentified', 'no known file signature in the test'],
      ['grey-copy.jpg', 'no-content', 'the decoded image is one flat colour (rgb 128,128,128)'],
      ['grey.jpg', 'no-content', 'the decoded image is one flat colour (rgb 128,128,128)'],
    ]);
  });

  it('writes the findings about an occurrence with its move', async () => {
    const ref = ev();
    const named = await addUpload(ref, 'holiday.png', 'JPEG PREVIEW');
    const copy = await addUpload(ref, 'copy.jpg', 'JPEG PREVIEW');
    for (const m of [named, copy]) {
      await run(identifyStage, m);
      await run(metadataStage, m);
    }
    expect((await file(named)).flags).toEqual(['ext-mismatch']);
    expect((await file(copy)).flags).toEqual([]);
    expect(await run(thumbnailStage, named)).toMatchObject({ outcome: { status: 'done', summary: { from: 'exif-preview' } }, statements: 2 });
    // The second occurrence reuses the thumbnail: its flag and move are one write.
    expect(await run(thumbnailStage, copy)).toMatchObject({ outcome: { status: 'skipped', reason: 'already-analysed' }, statements: 2 });
    expect(await file(named)).toMatchObject({ stage: 'thumbnailed', flags: ['ext-mismatch', 'exif-preview-thumbnail'] });
    expect(await file(copy)).toMatchObject({ stage: 'thumbnailed', flags: ['exif-preview-thumbnail'] });
  });

  it('makes metadata findings the flags of every occurrence, with their detail in the status', async () => {
    const ref = ev();
    const first = await addUpload(ref, 'a.jpg', 'JPEG NULLISLAND');
    const copy = await addUpload(ref, 'b.jpg', 'JPEG NULLISLAND');
    for (const m of [first, copy]) await run(identifyStage, m);
    expect(await run(metadataStage, first)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(await run(metadataStage, copy)).toMatchObject({ outcome: { status: 'skipped', reason: 'already-analysed' } });
    for (const m of [first, copy]) expect(await file(m)).toMatchObject({ stage: 'described', flags: ['gps-null-island', 'metadata-partial'] });
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.findings).toContainEqual({ fileId: first.fileId, path: 'a.jpg', flag: 'metadata-partial', detail: 'metadata read only in part: tiff: Invalid TIFF value type' });
    expect(status?.findings).toContainEqual({ fileId: copy.fileId, path: 'b.jpg', flag: 'gps-null-island', detail: 'GPS position recorded as 0,0 (no fix); not used as a location' });
  });

  it('marks an archive for unpacking in the identification write, or flags it when nested too deeply', async () => {
    const ref = ev();
    const zip = await addUpload(ref, 'phone.zip', 'PK archive');
    expect(await run(identifyStage, zip)).toMatchObject({ outcome: { status: 'done', summary: { next: ['unpack', 'index'] } }, statements: 2 });
    expect(await file(zip)).toMatchObject({ stage: 'identified', unpack: 'pending', flags: [] });
    expect(bus.ids('unpack')).toContainEqual(expect.stringContaining(zip.fileId));
    // Indexed while its unpack is still pending: the evidence item is not complete.
    await run(indexStage, zip);
    expect(completions(ref)).toHaveLength(0);

    const deep = ev();
    const nested = await addUpload(deep, 'deep.zip', 'PK deep');
    deps.limits = limitsWith({ maxNestingDepth: 0 });
    expect(await run(identifyStage, nested)).toMatchObject({ outcome: { summary: { next: ['index'] } }, statements: 2 });
    expect(await file(nested)).toMatchObject({ stage: 'identified', unpack: 'n/a', flags: ['not-unpacked-depth'] });
    await run(indexStage, nested);
    expect(completions(deep)).toHaveLength(1);
  });

  it('routes a document straight to index after one write', async () => {
    const ref = ev();
    const doc = await addUpload(ref, 'notes.txt', 'TEXT notes');
    expect(await run(identifyStage, doc)).toMatchObject({ outcome: { summary: { next: ['index'] } }, statements: 2 });
    await run(indexStage, doc);
    expect(await file(doc)).toMatchObject({ stage: 'indexed' });
    expect(completions(ref)).toHaveLength(1);
  });
});
