import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  batchMessageIdFor,
  createRootLogger,
  ExhibitError,
  messageIdFor,
  LIMITS,
  rootFileId,
  type FileIdentifier,
  type FileMessage,
  type FileRecord,
  type MetadataExtractor,
  type StageOutcome,
  type Thumbnailer,
} from '@exhibit/core';
import { countingSqlClient, createPostgresIndex, openSqlClient, type SqlClient } from '@exhibit/index';
import { createAzureBlobStore } from '@exhibit/storage';
import { loadFile } from '../src/file-stage.js';
import { identifyStep } from '../src/identify.step.js';
import { StepWrites } from '../src/step-writes.js';
import type { StageContext } from '../src/stage.js';
import { recordCompletionIfDone } from '../src/completion.js';
import { batchesOf, runDeadLetter, runMessage, type RunnerDeps } from '../src/stage-runner.js';
import { RecordingBus, RecordingCustody, limitsWith } from './fixtures/archives/unpack-harness.js';

/**
 * The per-file stages (analyse: identify, metadata and thumbnail on one read;
 * then index) through the stage runner, against a real index (PGlite) and
 * real blob storage (Azurite). The media adapters are stand-ins that answer
 * from the bytes' first word, so each path (mismatch, failure, EXIF preview,
 * archive) is chosen by the test; the real ones are tested in @exhibit/media
 * and end to end.
 */


const TYPES: Record<string, { mime: string; detectedExt: string; kind: 'image' | 'audio' | 'video' | 'archive' | 'document' }> = {
  JPEG: { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image' },
  // An iPhone voice memo / Android voice note as identification names it by its tracks (iso-bmff-tracks.ts).
  M4A: { mime: 'audio/mp4', detectedExt: 'm4a', kind: 'audio' },
  // An MP4 by its brand (a voice note stored before tracks were read, or a movie): the tracks decide under .m4a.
  MP4: { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' },
  // A Standard MIDI File (file-type: audio/midi): a score, which no allowed demuxer reads.
  MThd: { mime: 'audio/midi', detectedExt: 'mid', kind: 'audio' },
  PK: { mime: 'application/zip', detectedExt: 'zip', kind: 'archive' },
  TEXT: { mime: 'text/plain', detectedExt: 'txt', kind: 'document' },
};
const tag = (bytes: Buffer) => bytes.toString('latin1').split(' ')[0] ?? '';
const readAll = (source: { size: number; read(offset: number, length: number): Promise<Buffer> }) => source.read(0, source.size);

const identifications = { count: 0 };
const identifier: FileIdentifier = {
  tools: async () => [{ name: 'stand-in-identifier', version: '1' }],
  identify: async (source) => {
    identifications.count += 1;
    const type = TYPES[tag(await source.read(0, 64))];
    return type ? { ...type, findings: [] } : { mime: null, detectedExt: null, kind: 'other', findings: [{ flag: 'unidentified', detail: 'no known file signature in the test' }] };
  },
  extensionMismatch: (name, id) => id.detectedExt !== null && !name.endsWith(`.${id.detectedExt}`) && !(id.detectedExt === 'mp4' && name.endsWith('.m4a')),
  // As the adapter: an mp4 under .m4a is contradicted by a video track, read from the bytes ('VIDE' here); 'FAULT' a parser fault.
  extensionContradicted: async (name, id, source) => {
    if (id.detectedExt !== 'mp4' || !name.endsWith('.m4a')) return false;
    const head = (await source.read(0, 64)).toString('latin1');
    if (head.includes('FAULT')) throw new ExhibitError('parse-timeout', 'track walk past its deadline');
    return head.includes('VIDE');
  },
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
  // What ffprobe states of a 2 s AAC voice memo (`ffmpeg -f lavfi -i sine=d=2 -c:a aac memo.m4a`).
  audio: async (source, options) => {
    if (tag(await source.read(0, 64)) === 'MThd') {
      // As the adapter: no allowed reader for 'mid', so nothing is run; ffprobe asked anyway called it corrupt.
      if (options?.detectedExt === 'mid') return null;
      throw new ExhibitError('corrupt-file', 'ffprobe failed: Invalid data found when processing input');
    }
    return { durationSec: 2.0, codecs: ['aac'], audioStream: { codec: 'aac', sampleRate: 44100, channels: 1 }, raw: {} };
  },
};

const thumbnailer: Thumbnailer = {
  tools: async () => [{ name: 'stand-in-thumbnailer', version: '1' }],
  recipe: 'test',
  image: async (source) => {
    const bytes = await readAll(source);
    const findings = bytes.includes('FLAT') ? [{ flag: 'no-content' as const, detail: 'the decoded image is one flat colour (rgb 128,128,128)' }] : [];
    // BYFFMPEG: a thumbnail made by a tool beyond those tools('image') lists (a HEIF sequence's frame).
    const madeBy = bytes.includes('BYFFMPEG') ? { tools: [{ name: 'ffmpeg', version: 'stand-in' }] } : {};
    // PDQ: a picture the stand-in hashes (the real thumbnailer hashes every picture it decodes).
    const pdq = bytes.includes('PDQ') ? { pdq: [{ frame: 0, hash: createHash('sha256').update(bytes).digest('hex'), quality: 90 }] } : {};
    return { jpeg: Buffer.from('thumb'), width: 4, height: 3, from: bytes.includes('PREVIEW') ? 'exif-preview' : 'image', findings, ...madeBy, ...pdq };
  },
  video: async () => {
    throw new ExhibitError('unsupported-format', 'no videos here');
  },
};

const counter = { statements: 0 };
/** Ranged reads of blob storage (each a GET). */
const storageReads = { count: 0 };
let deps: RunnerDeps;
let bus: RecordingBus;
let custody: RecordingCustody;
let close: () => Promise<void>;
/** The index's database, read behind its back (the review summary's tables). */
let sql: SqlClient;

beforeAll(async () => {
  const store = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
  const blobs: typeof store = Object.create(store, {
    readRange: {
      value: (...args: Parameters<typeof store.readRange>) => {
        storageReads.count += 1;
        return store.readRange(...args);
      },
    },
  }) as typeof store;
  const suffix = randomBytes(4).toString('hex');
  const containers = { evidence: `evidence-${suffix}`, derived: `derived-${suffix}` };
  await blobs.ensureContainer(containers.evidence);
  await blobs.ensureContainer(containers.derived);
  sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
  const index = createPostgresIndex(countingSqlClient(sql, counter));
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

/** Runs one message through the stage runner, as the runtime does, and counts its statements and storage reads. */
async function run(queue: 'analyse' | 'index', message: FileMessage): Promise<{ outcome: StageOutcome; statements: number; reads: number }> {
  const before = counter.statements;
  const readsBefore = storageReads.count;
  const outcome = await runMessage(deps, queue, { body: message, messageId: randomBytes(4).toString('hex'), deliveryCount: 1 }, { invocationId: 'test', logger: createRootLogger({ level: 'silent' }) });
  return { outcome, statements: counter.statements - before, reads: storageReads.count - readsBefore };
}

async function file(message: FileMessage): Promise<FileRecord> {
  const got = await deps.index.getFile(message.fileId);
  if (!got) throw new Error(`no file ${message.fileId}`);
  return got;
}

const completions = (ref: { evidenceId: string }) => custody.events.filter((e) => e.action === 'processing-complete' && e.evidenceId === ref.evidenceId);
const failuresRecorded = (m: FileMessage) => custody.events.filter((e) => e.action === 'stage-failed' && e.subject?.fileId === m.fileId);

describe('per-file stages', () => {
  it('analyse-photo-spends-a-transaction-on-its-pdq-before-the-thumbnail-write: a hashed photo costs no more statements than one without', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'hashed.jpg', 'JPEG photo PDQ');
    // The file's read, and one write of identify, metadata, and the thumbnail with its PDQ hash (a transaction of two more
    // before the hash rode in the thumbnail's write; a statement per step before photo-analysis-written-in-three-statements).
    expect(await run('analyse', m)).toMatchObject({ outcome: { status: 'done' }, statements: 2, reads: 1 });
    const stored = await deps.index.getFileWithContent(m.fileId);
    expect(stored?.file.stage).toBe('thumbnailed');
    expect(await deps.index.getPdq(stored!.file.sha256!)).toEqual([{ frame: 0, hash: createHash('sha256').update('JPEG photo PDQ').digest('hex'), quality: 90 }]);
  });

  it('analyse a photo from one storage read with one index read and one write, and the last file completes the evidence item', async () => {
    const ref = ev();
    const a = await addUpload(ref, 'a.jpg', 'JPEG photo a');
    const b = await addUpload(ref, 'b.jpg', 'JPEG photo b');

    for (const m of [a, b]) {
      // One read of the file and its content; identify, metadata and thumbnail write in one statement.
      expect(await run('analyse', m)).toMatchObject({ outcome: { status: 'done' }, statements: 2, reads: 1 });
    }
    // b is still open: a's own move says so, and no completion probe follows.
    // The move, and the hash-set match of the file's content (docs/known-files.md).
    expect(await run('index', a)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(completions(ref)).toHaveLength(0);
    await run('index', b);
    expect(completions(ref)).toHaveLength(1);
    expect(completions(ref)[0]?.details).toMatchObject({ files: 2, failures: 0 });

    const got = await deps.index.getFileWithContent(a.fileId);
    expect(got?.file).toMatchObject({ stage: 'indexed', flags: [] });
    expect(got?.content).toMatchObject({ kind: 'image', metadataStatus: 'done', thumbnailStatus: 'done', thumbnailSource: 'image' });
    expect(bus.ids('index')).toEqual(expect.arrayContaining([a.fileId, b.fileId].map((id) => expect.stringContaining(id))));
    expect(bus.ids('unpack').filter((id) => id.includes(a.fileId) || id.includes(b.fileId))).toEqual([]);
  });

  it('leaves everything as it was when every message is delivered again, and routes again', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'again.jpg', 'JPEG again');
    await run('analyse', m);
    await run('index', m);
    const before = await deps.index.getFileWithContent(m.fileId);
    expect(completions(ref)).toHaveLength(1);
    const sentBefore = bus.ids('index').filter((id) => id.includes(m.fileId)).length;

    expect((await run('analyse', m)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    // The crash may have come before the send: the runner sends the next step again (its id is the same, so the bus drops it).
    expect(bus.ids('index').filter((id) => id.includes(m.fileId))).toHaveLength(sentBefore + 1);
    const index = await run('index', m);
    expect(index.outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(await deps.index.getFileWithContent(m.fileId)).toEqual(before);
    expect(completions(ref)).toHaveLength(1);
    // A message naming another evidence item touches nothing.
    expect((await run('index', { ...m, evidenceId: 'someone-else' })).outcome).toEqual({ status: 'skipped', reason: 'unknown-subject' });
    expect((await run('analyse', { ...m, evidenceId: 'someone-else' })).outcome).toEqual({ status: 'skipped', reason: 'unknown-subject' });
  });

  it('does only the missing steps when redelivered after a crash between them', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'half.jpg', 'JPEG half done');
    // identify ran and wrote (metadata then threw a retryable fault, or an older version wrote per step), then the process died.
    const loaded = await loadFile(deps, m);
    if (typeof loaded === 'string') throw new Error(loaded);
    const ctx: StageContext = { logger: createRootLogger({ level: 'silent' }), messageId: 'crashed', deliveryCount: 1 };
    const writes = new StepWrites(loaded.content.sha256, m.fileId);
    await identifyStep(deps, loaded, { name: 'half.jpg', size: loaded.content.size, read: (o, l) => deps.blobs.readRange(loaded.source, o, l), url: () => deps.blobs.readUrl(loaded.source, { expiresInMs: 1000 }) }, ctx, writes);
    await writes.flush(deps.index);
    expect(await file(m)).toMatchObject({ stage: 'identified' });
    const identified = identifications.count;

    const again = await run('analyse', m);
    expect(again.outcome).toMatchObject({ status: 'done', summary: { identify: 'already-done', metadata: { kind: 'image' }, thumbnail: { from: 'image' } } });
    expect(identifications.count).toBe(identified);
    expect(await file(m)).toMatchObject({ stage: 'thumbnailed' });
  });

  it('m4a-holding-video-not-flagged-ext-mismatch: an mp4 under .m4a is flagged by its tracks, for a new content and one identified before', async () => {
    const ref = ev();
    const ctx: StageContext = { logger: createRootLogger({ level: 'silent' }), messageId: 'm4a', deliveryCount: 1 };
    const identifyOnly = async (m: FileMessage) => {
      const loaded = await loadFile(deps, m);
      if (typeof loaded === 'string') throw new Error(loaded);
      const input = { name: loaded.file.name, size: loaded.content.size, read: (o: number, l: number) => deps.blobs.readRange(loaded.source, o, l), url: () => deps.blobs.readUrl(loaded.source, { expiresInMs: 1000 }) };
      const writes = new StepWrites(loaded.content.sha256, m.fileId);
      const identified = await identifyStep(deps, loaded, input, ctx, writes);
      await writes.flush(deps.index);
      return identified;
    };
    const movie = await addUpload(ref, 'clip.m4a', 'MP4 VIDE soun');
    expect((await identifyOnly(movie)).outcome).toMatchObject({ status: 'done', summary: { extMismatch: true } });
    expect(await file(movie)).toMatchObject({ stage: 'identified', flags: ['ext-mismatch'] });
    // The same bytes again (the content already identified, its stored row says only mp4): read from the bytes, flagged too.
    const again = await addUpload(ref, 'again.m4a', 'MP4 VIDE soun');
    expect((await identifyOnly(again)).outcome).toMatchObject({ summary: { extMismatch: true } });
    // Under its own name, no flag; a stored mp4 that is sound alone (stale-content-m4a-false-ext-mismatch), no flag.
    const own = await addUpload(ref, 'clip.mp4', 'MP4 VIDE soun');
    expect((await identifyOnly(own)).outcome).toMatchObject({ summary: { extMismatch: false } });
    const memo = await addUpload(ref, 'Voice 001.m4a', 'MP4 soun');
    expect((await identifyOnly(memo)).outcome).toMatchObject({ summary: { extMismatch: false } });
    // A parser fault of the bytes is no verdict: no flag, and the file is identified, not failed.
    const fault = await addUpload(ref, 'fault.m4a', 'MP4 FAULT');
    expect((await identifyOnly(fault)).outcome).toMatchObject({ status: 'done', summary: { extMismatch: false } });
    expect(await file(fault)).toMatchObject({ stage: 'identified', flags: [] });
  });

  it('regression: heif-sequence-frame-tools-omit-ffmpeg: records the tools a thumbnail names as its makers with it', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'burst.jpg', 'JPEG BYFFMPEG');
    expect((await run('analyse', m)).outcome).toMatchObject({ status: 'done' });
    const content = (await deps.index.getFileWithContent(m.fileId))?.content;
    const { rows } = await sql.query<{ tools: { thumbnail?: unknown } }>('SELECT tools FROM contents WHERE sha256 = $1', [content?.sha256]);
    expect(rows[0]?.tools.thumbnail).toEqual([
      { name: 'stand-in-thumbnailer', version: '1' },
      { name: 'ffmpeg', version: 'stand-in' },
      { name: 'exhibit-pipeline', version: 'test' },
    ]);
  });

  it('records a metadata failure on the content and still makes the thumbnail', async () => {
    const ref = ev();
    const first = await addUpload(ref, 'broken.jpg', 'JPEG BROKEN');
    const copy = await addUpload(ref, 'copy.jpg', 'JPEG BROKEN');
    const analysed = await run('analyse', first);
    // The file goes on: a thumbnail does not need the metadata. No completion probe: the file's chain is not over.
    expect(analysed).toMatchObject({ outcome: { status: 'done', summary: { metadata: 'corrupt-file', thumbnail: { from: 'image' } } }, statements: 2 });
    expect(await file(first)).toMatchObject({ stage: 'thumbnailed', failure: null });
    expect(bus.ids('index')).toContainEqual(expect.stringContaining(first.fileId));
    // The failure is in custody, under its own step's name, once.
    expect(failuresRecorded(first).map((e) => e.details)).toEqual([{ stage: 'metadata', code: 'corrupt-file', detail: 'no end of EXIF segment' }]);
    expect((await deps.index.getFileWithContent(first.fileId))?.content).toMatchObject({
      metadataStatus: 'failed',
      failure: { stage: 'metadata', code: 'corrupt-file', detail: 'no end of EXIF segment' },
    });
    await run('index', first);
    expect(await file(first)).toMatchObject({ stage: 'indexed' });

    // The same bytes elsewhere take the recorded failure without a second analysis, and go on too.
    expect((await run('analyse', copy)).outcome).toMatchObject({ summary: { metadata: 'already-analysed', thumbnail: 'already-analysed' } });
    await run('index', copy);
    expect(completions(ref)).toHaveLength(1);

    // Status shows the failure at both occurrences, with the recorded reason.
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.failures.map((f) => [f.path, f.stage, f.code, f.detail])).toEqual([
      ['broken.jpg', 'metadata', 'corrupt-file', 'no end of EXIF segment'],
      ['copy.jpg', 'metadata', 'corrupt-file', 'no end of EXIF segment'],
    ]);
    expect(status?.stages.metadata).toEqual({ done: 0, failed: 2, pending: 0 });
    expect(status?.stages.thumbnail).toEqual({ done: 2, failed: 0, pending: 0 });
    for (const queue of ['analyse', 'index'] as const) {
      expect((await run(queue, first)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    }
    expect(failuresRecorded(first)).toHaveLength(1);
  });

  it('fails a file whose identification fails, records it in custody once, and completes the evidence item', async () => {
    const ref = ev();
    const m = await addUpload(ref, 'bad.jpg', 'JPEG x');
    const saved = deps.identifier;
    deps.identifier = { ...saved, identify: async () => { throw new ExhibitError('parse-crashed', 'the parser thread died on it twice'); } };
    try {
      expect(await run('analyse', m)).toMatchObject({ outcome: { status: 'failed', code: 'parse-crashed' } });
    } finally {
      deps.identifier = saved;
    }
    expect(await file(m)).toMatchObject({ stage: 'failed', failure: { stage: 'identify', code: 'parse-crashed' } });
    expect(bus.ids('index').filter((id) => id.includes(m.fileId))).toEqual([]);
    expect(failuresRecorded(m).map((e) => e.details)).toEqual([{ stage: 'identify', code: 'parse-crashed', detail: 'the parser thread died on it twice' }]);
    expect(completions(ref)).toHaveLength(1);
    expect((await run('analyse', m)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(failuresRecorded(m)).toHaveLength(1);
  });

  it('shows an unidentified file and findings about its bytes in status, at every occurrence', async () => {
    const ref = ev();
    const blob = await addUpload(ref, 'carved.bin', 'QQQQ no signature here');
    expect(await run('analyse', blob)).toMatchObject({ outcome: { status: 'done', summary: { identify: { mime: null } } }, statements: 2 });
    expect(bus.ids('index')).toContainEqual(expect.stringContaining(blob.fileId));
    await run('index', blob);
    const flat = await addUpload(ref, 'grey.jpg', 'JPEG FLAT');
    const flatCopy = await addUpload(ref, 'grey-copy.jpg', 'JPEG FLAT');
    for (const m of [flat, flatCopy]) for (const queue of ['analyse', 'index'] as const) await run(queue, m);

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

  it('writes the findings about an occurrence with its moves', async () => {
    const ref = ev();
    const named = await addUpload(ref, 'holiday.png', 'JPEG PREVIEW');
    const copy = await addUpload(ref, 'copy.jpg', 'JPEG PREVIEW');
    expect(await run('analyse', named)).toMatchObject({ outcome: { status: 'done', summary: { thumbnail: { from: 'exif-preview' } } }, statements: 2 });
    // The second occurrence reuses the analysis: every step's flags and the move are one write.
    expect(await run('analyse', copy)).toMatchObject({ outcome: { summary: { metadata: 'already-analysed', thumbnail: 'already-analysed' } }, statements: 2, reads: 0 });
    expect(await file(named)).toMatchObject({ stage: 'thumbnailed', flags: ['ext-mismatch', 'exif-preview-thumbnail'] });
    expect(await file(copy)).toMatchObject({ stage: 'thumbnailed', flags: ['exif-preview-thumbnail'] });
  });

  it('makes metadata findings the flags of every occurrence, with their detail in the status', async () => {
    const ref = ev();
    const first = await addUpload(ref, 'a.jpg', 'JPEG NULLISLAND');
    const copy = await addUpload(ref, 'b.jpg', 'JPEG NULLISLAND');
    expect(await run('analyse', first)).toMatchObject({ outcome: { status: 'done', summary: { metadata: { kind: 'image' } } }, statements: 2 });
    expect(await run('analyse', copy)).toMatchObject({ outcome: { summary: { metadata: 'already-analysed' } } });
    for (const m of [first, copy]) expect(await file(m)).toMatchObject({ stage: 'thumbnailed', flags: ['gps-null-island', 'metadata-partial'] });
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.findings).toContainEqual({ fileId: first.fileId, path: 'a.jpg', flag: 'metadata-partial', detail: 'metadata read only in part: tiff: Invalid TIFF value type' });
    expect(status?.findings).toContainEqual({ fileId: copy.fileId, path: 'b.jpg', flag: 'gps-null-island', detail: 'GPS position recorded as 0,0 (no fix); not used as a location' });
  });

  it('marks an archive for unpacking in the identification write and routes it to unpack and index, or flags it when nested too deeply', async () => {
    const ref = ev();
    const zip = await addUpload(ref, 'phone.zip', 'PK archive');
    expect(await run('analyse', zip)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(await file(zip)).toMatchObject({ stage: 'identified', unpack: 'pending', flags: [] });
    expect(bus.ids('unpack')).toContainEqual(expect.stringContaining(zip.fileId));
    expect(bus.ids('index')).toContainEqual(expect.stringContaining(zip.fileId));
    // Indexed while its unpack is still pending: the evidence item is not complete.
    await run('index', zip);
    expect(completions(ref)).toHaveLength(0);

    const deep = ev();
    const nested = await addUpload(deep, 'deep.zip', 'PK deep');
    deps.limits = limitsWith({ maxNestingDepth: 0 });
    expect(await run('analyse', nested)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(await file(nested)).toMatchObject({ stage: 'identified', unpack: 'n/a', flags: ['not-unpacked-depth'] });
    expect(bus.ids('unpack').filter((id) => id.includes(nested.fileId))).toEqual([]);
    await run('index', nested);
    expect(completions(deep)).toHaveLength(1);
  });

  it('midi-tracker-metadata-recorded-corrupt-file: audio no allowed reader reads gets metadata n/a, no failure', async () => {
    const ref = ev();
    const tune = await addUpload(ref, 'ringtone.mid', 'MThd tune');
    const analysed = await run('analyse', tune);
    expect(analysed).toMatchObject({ outcome: { status: 'done', summary: { identify: { kind: 'audio', mime: 'audio/midi' }, metadata: 'no-reader' } }, statements: 2 });
    await run('index', tune);
    const got = await deps.index.getFileWithContent(tune.fileId);
    expect(got?.file).toMatchObject({ stage: 'indexed', flags: [], failure: null });
    expect(got?.content).toMatchObject({ kind: 'audio', metadataStatus: 'n/a', metadata: null, failure: null, thumbnailStatus: 'n/a' });
    expect(failuresRecorded(tune)).toEqual([]);
    expect(completions(ref)[0]?.details).toMatchObject({ files: 1, failures: 0 });
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.stages.metadata).toMatchObject({ failed: 0, pending: 0 });
  });

  it('audio-thumbnail-status-pending-forever: audio\'s thumbnail is n/a with its metadata write, as the CLI and web show it', async () => {
    // No thumbnail step runs for audio, so 'pending' was never left: the web said "No preview (pending)".
    const ref = ev();
    const memo = await addUpload(ref, 'Voice 004.m4a', 'M4A voice note 4');
    expect(await run('analyse', memo)).toMatchObject({ statements: 2 });
    const got = await deps.index.getFileWithContent(memo.fileId);
    expect(got?.content).toMatchObject({ metadataStatus: 'done', thumbnailStatus: 'n/a' });
    // An image's stays its own: done by its thumbnail step.
    const photo = await addUpload(ref, 'IMG_0004.jpg', 'JPEG photo 4');
    await run('analyse', photo);
    expect((await deps.index.getFileWithContent(photo.fileId))?.content).toMatchObject({ thumbnailStatus: 'done' });
  });

  it('audio-m4a-analysed-as-video-thumbnail-attempted: a voice memo gets its metadata, no thumbnail, and no failure', async () => {
    const ref = ev();
    const memo = await addUpload(ref, 'New Recording 3.m4a', 'M4A voice memo');
    // Identify and metadata write in one statement; no thumbnail is tried (the stand-in's video() would fail it).
    const analysed = await run('analyse', memo);
    expect(analysed).toMatchObject({ outcome: { status: 'done', summary: { identify: { kind: 'audio', mime: 'audio/mp4', extMismatch: false }, metadata: { kind: 'audio' } } }, statements: 2 });
    expect((analysed.outcome as { summary?: Record<string, unknown> }).summary).not.toHaveProperty('thumbnail');
    expect(bus.ids('index')).toContainEqual(expect.stringContaining(memo.fileId));
    // Delivered again (or re-sent by the watchdog): described is the end of an audio file's analyse.
    expect(await run('analyse', memo)).toMatchObject({ outcome: { status: 'skipped' } });
    await run('index', memo);
    const got = await deps.index.getFileWithContent(memo.fileId);
    expect(got?.file).toMatchObject({ stage: 'indexed', flags: [], failure: null });
    expect(got?.content).toMatchObject({ kind: 'audio', mime: 'audio/mp4', metadataStatus: 'done', thumbnailStatus: 'n/a', thumbnail: null });
    expect(got?.content?.metadata).toMatchObject({ durationSec: 2, audioStream: { codec: 'aac', sampleRate: 44100, channels: 1 } });
    expect(failuresRecorded(memo)).toEqual([]);
    expect(completions(ref)).toHaveLength(1);
    expect(completions(ref)[0]?.details).toMatchObject({ files: 1, failures: 0 });
    const status = await deps.index.evidenceStatus(ref.caseId, ref.evidenceId);
    expect(status?.stages.metadata).toEqual({ done: 1, failed: 0, pending: 0 });
    expect(status?.stages.thumbnail).toMatchObject({ failed: 0 });
  });

  it('routes a document straight to index after one write', async () => {
    const ref = ev();
    const doc = await addUpload(ref, 'notes.txt', 'TEXT notes');
    expect(await run('analyse', doc)).toMatchObject({ outcome: { status: 'done' }, statements: 2 });
    expect(bus.ids('index')).toContainEqual(expect.stringContaining(doc.fileId));
    await run('index', doc);
    expect(await file(doc)).toMatchObject({ stage: 'indexed' });
    expect(completions(ref)).toHaveLength(1);
  });
});

/**
 * A content's and an occurrence's rows as stored, every column but the times of the write, with the values
 * that name these bytes and this file (hashes, ids, evidence item) replaced by placeholders, so two runs on
 * different bytes of the same kind compare equal when they ended the same. The stand-in's PDQ hash is the
 * bytes' SHA-256, so it reads as the placeholder too.
 */
async function storedRows(m: FileMessage): Promise<string> {
  const f = (await sql.query<Record<string, unknown>>('SELECT * FROM files WHERE file_id = $1', [m.fileId])).rows[0];
  if (!f) throw new Error(`no file ${m.fileId}`);
  const c = (await sql.query<Record<string, unknown>>('SELECT * FROM contents WHERE sha256 = $1', [f.sha256])).rows[0];
  const pdq = (await sql.query('SELECT frame, pdq::text AS bits, quality, time_ms FROM content_pdq WHERE sha256 = $1 ORDER BY frame', [f.sha256])).rows;
  const { updated_at: _f, created_at: _fc, ...file } = f;
  const { updated_at: _c, created_at: _cc, ...content } = c ?? {};
  let text = JSON.stringify({ file, content, pdq });
  const hashes = await deps.index.getContent(String(f.sha256));
  const bits = (hex: string) => [...Buffer.from(hex, 'hex')].map((b) => b.toString(2).padStart(8, '0')).join('');
  for (const [value, name] of [
    [String(f.sha256), '<sha256>'],
    [bits(String(f.sha256)), '<sha256 bits>'],
    [hashes?.md5 ?? '-', '<md5>'],
    [hashes?.sha1 ?? '-', '<sha1>'],
    [m.fileId, '<file>'],
    [m.evidenceId, '<evidence>'],
  ] as const) text = text.split(value).join(name);
  // Derived blobs are named under the hash's first two digits (thumbnails/ab/<sha256>...).
  return text.replace(/\/[0-9a-f]{2}\/<sha256>/g, '/<sha256 prefix>/<sha256>');
}

describe("the analyse stage's one write (step-writes.ts)", () => {
  /** A photo for every part of the write: an extension its type contradicts, metadata findings, an EXIF preview, a PDQ hash. */
  const PHOTO = 'JPEG NULLISLAND PREVIEW PDQ';
  const photoUpload = async (ref: { caseId: string; evidenceId: string }, tag: string) => addUpload(ref, 'holiday.png', `${PHOTO} ${tag}`);

  it('photo-analysis-written-in-three-statements: a photo\'s identification, metadata and thumbnail are one index statement', async () => {
    const ref = ev();
    const m = await photoUpload(ref, 'counted');
    // The file's read and one write (identify, metadata, thumbnail with its PDQ hash, and the file's move); four before.
    const analysed = await run('analyse', m);
    expect(analysed).toMatchObject({ outcome: { status: 'done', summary: { identify: { extMismatch: true }, metadata: { kind: 'image' }, thumbnail: { from: 'exif-preview' } } }, reads: 1 });
    expect(analysed.statements).toBe(2);
    expect(await file(m)).toMatchObject({ stage: 'thumbnailed', flags: ['ext-mismatch', 'gps-null-island', 'metadata-partial', 'exif-preview-thumbnail'] });
    // Another occurrence of the same bytes: its read and its move with every step's flags, in one statement too.
    const copy = await addUpload(ref, 'copy.jpg', `${PHOTO} counted`);
    expect(await run('analyse', copy)).toMatchObject({ outcome: { summary: { metadata: 'already-analysed', thumbnail: 'already-analysed' } }, statements: 2, reads: 0 });
    expect(await file(copy)).toMatchObject({ stage: 'thumbnailed', flags: ['gps-null-island', 'metadata-partial', 'exif-preview-thumbnail'] });
  });

  it('ends with the same rows when the one write is replayed, or a later writer of the same bytes comes after it', async () => {
    const ref = ev();
    const m = await photoUpload(ref, 'replayed');
    const index = deps.index;
    const calls: Array<Parameters<typeof index.setAnalysis>> = [];
    deps = { ...deps, index: Object.create(index, { setAnalysis: { value: (...args: Parameters<typeof index.setAnalysis>) => (calls.push(args), index.setAnalysis(...args)) } }) as typeof index };
    try {
      await run('analyse', m);
    } finally {
      deps = { ...deps, index };
    }
    expect(calls).toHaveLength(1);
    const after = await storedRows(m);
    // The process died after the write, before the message was settled: the redelivery does nothing.
    expect((await run('analyse', m)).outcome).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(await storedRows(m)).toEqual(after);
    // The statement itself sent again (a retry of a write whose answer was lost): every part is recorded already.
    await index.setAnalysis(...calls[0]!);
    expect(await storedRows(m)).toEqual(after);
    // Another attempt's results for the same bytes (other tools, other findings, other hashes): the first stand.
    const [sha256, results, move] = calls[0]!;
    await index.setAnalysis(
      sha256,
      {
        identification: { ...results.identification!, mime: 'image/png', tools: [{ name: 'later', version: '2' }], findings: [{ flag: 'unidentified', detail: 'later' }] },
        metadata: { ...results.metadata!, status: 'failed', metadata: null, failure: { stage: 'metadata', code: 'corrupt-file', detail: 'later' } },
        thumbnail: { ...results.thumbnail!, source: 'image', findings: [], pdq: [{ frame: 0, hash: 'ab'.repeat(32), quality: 1 }] },
      },
      move,
    );
    expect(await storedRows(m)).toEqual(after);
  });

  it('ends with the same rows as one attempt when an older attempt wrote some steps before it died', async () => {
    const whole = await photoUpload(ev(), 'resumed-0');
    await run('analyse', whole);
    const expected = await storedRows(whole);

    // Identify written alone (by an attempt whose metadata step then faulted, or by a version that wrote each
    // step), then the process died: the redelivery does metadata and thumbnail, in one statement.
    const afterIdentify = await photoUpload(ev(), 'resumed-1');
    const loaded = await loadFile(deps, afterIdentify);
    if (typeof loaded === 'string') throw new Error(loaded);
    const writes = new StepWrites(loaded.content.sha256, afterIdentify.fileId);
    const input = { name: loaded.file.name, size: loaded.content.size, read: (o: number, l: number) => deps.blobs.readRange(loaded.source, o, l), url: () => deps.blobs.readUrl(loaded.source, { expiresInMs: 1000 }) };
    await identifyStep(deps, loaded, input, { logger: createRootLogger({ level: 'silent' }), messageId: 'older', deliveryCount: 1 }, writes);
    await writes.flush(deps.index);
    expect(await file(afterIdentify)).toMatchObject({ stage: 'identified', flags: ['ext-mismatch'] });
    expect(await run('analyse', afterIdentify)).toMatchObject({ outcome: { summary: { identify: 'already-done', metadata: { kind: 'image' } } }, statements: 2 });
    expect(await storedRows(afterIdentify)).toEqual(expected);

    // Identify and metadata written, the thumbnail step faulted (storage): the stage writes what the steps before
    // it found and throws; the retry does the thumbnail alone.
    const afterFault = await photoUpload(ev(), 'resumed-2');
    const saved = deps.thumbnailer;
    deps.thumbnailer = { ...saved, image: async () => { throw new ExhibitError('storage-unavailable', 'the derived container did not answer'); } };
    try {
      await expect(run('analyse', afterFault)).rejects.toMatchObject({ code: 'storage-unavailable' });
    } finally {
      deps.thumbnailer = saved;
    }
    expect(await file(afterFault)).toMatchObject({ stage: 'described', flags: ['ext-mismatch', 'gps-null-island', 'metadata-partial'] });
    const identified = identifications.count;
    expect(await run('analyse', afterFault)).toMatchObject({ outcome: { summary: { identify: 'already-done', metadata: 'already-done', thumbnail: { from: 'exif-preview' } } }, statements: 2 });
    expect(identifications.count).toBe(identified);
    expect(await storedRows(afterFault)).toEqual(expected);
  });

  it('dead-letter-names-identify-for-a-file-that-kills-analyse-in-its-thumbnail: a delivery again writes after each step', async () => {
    const ref = ev();
    const m = await photoUpload(ref, 'fatal');
    // The thumbnailer kills the process: nothing after it runs (here: no write reaches the index once it is entered).
    let dead = false;
    const savedThumbnailer = deps.thumbnailer;
    const index = deps.index;
    deps = {
      ...deps,
      thumbnailer: { ...savedThumbnailer, image: async () => { dead = true; throw new ExhibitError('storage-unavailable', 'the process died here'); } },
      index: Object.create(index, {
        setAnalysis: { value: (...args: Parameters<typeof index.setAnalysis>) => (dead ? Promise.reject(new ExhibitError('index-unavailable', 'dead')) : index.setAnalysis(...args)) },
      }) as typeof index,
    };
    const deliver = async (deliveryCount: number) => {
      dead = false;
      await expect(runMessage(deps, 'analyse', { body: m, messageId: messageIdFor('analyse', m.fileId), deliveryCount }, { invocationId: `i${deliveryCount}`, logger: createRootLogger({ level: 'silent' }) })).rejects.toThrow();
    };
    try {
      // The first delivery writes once, at the end: it died before, so nothing is recorded.
      await deliver(1);
      expect(await file(m)).toMatchObject({ stage: 'pending' });
      // Delivered again, each step's result is written as it comes: the file waits at its thumbnail.
      await deliver(2);
      expect(await file(m)).toMatchObject({ stage: 'described', flags: ['ext-mismatch', 'gps-null-island', 'metadata-partial'] });
    } finally {
      deps = { ...deps, thumbnailer: savedThumbnailer, index };
    }
    // Given up on: failed in the step it died in, as when each step wrote its own result.
    await runDeadLetter(deps, 'analyse', { body: m, messageId: messageIdFor('analyse', m.fileId), reason: 'MaxDeliveryCountExceeded', description: 'five attempts' }, { invocationId: 'dl', logger: createRootLogger({ level: 'silent' }) });
    expect(await file(m)).toMatchObject({ stage: 'failed', failure: { stage: 'thumbnail', code: 'dead-lettered' } });
  });

  it('keeps the findings of the steps before a thumbnail that fails the file', async () => {
    const ref = ev();
    const m = await photoUpload(ref, 'undecodable');
    // Another file still to do, so this failure does not end the evidence item (its completion is no part of the count).
    await addUpload(ref, 'waiting.txt', 'TEXT waiting');
    const saved = deps.thumbnailer;
    deps.thumbnailer = { ...saved, image: async () => { throw new ExhibitError('decode-failed', 'no decoder took it'); } };
    try {
      // The file's read, one write (identify, metadata, the thumbnail's failure and the file's, with the findings before
      // it; three before), and the runner's probe of the evidence item's open work after a failed file.
      expect(await run('analyse', m)).toMatchObject({ outcome: { status: 'failed', code: 'decode-failed' }, statements: 3 });
    } finally {
      deps.thumbnailer = saved;
    }
    const failure = { stage: 'thumbnail', code: 'decode-failed', detail: 'no decoder took it' };
    expect(await file(m)).toMatchObject({ stage: 'failed', failure, flags: ['ext-mismatch', 'gps-null-island', 'metadata-partial'] });
    expect((await deps.index.getFileWithContent(m.fileId))?.content).toMatchObject({ kind: 'image', metadataStatus: 'done', thumbnailStatus: 'failed', failure });
    // Another occurrence takes the recorded failure, with its own findings.
    const copy = await addUpload(ref, 'copy.jpg', `${PHOTO} undecodable`);
    expect((await run('analyse', copy)).outcome).toMatchObject({ status: 'failed', code: 'decode-failed' });
    expect(await file(copy)).toMatchObject({ stage: 'failed', failure, flags: ['gps-null-island', 'metadata-partial'] });
  });
});

/** The case's review summary as stored (no read of the review API, which could remake it): fresh, and the files it counts. */
async function reviewSummary(caseId: string): Promise<{ fresh: boolean; counted: number; files: number } | null> {
  const { rows } = await sql.query<{ fresh: boolean; counted: string; files: string }>(
    `SELECT s.sets_version = v.version AND NOT EXISTS (SELECT 1 FROM review_summary_changes c WHERE c.case_id = s.case_id) AS fresh,
            (SELECT COALESCE(sum(files), 0) FROM review_summary_counts WHERE case_id = s.case_id) AS counted,
            (SELECT count(*) FROM files WHERE case_id = s.case_id) AS files
       FROM review_summary_state s CROSS JOIN review_summary_sets_version v WHERE s.case_id = $1`,
    [caseId],
  );
  const r = rows[0];
  return r ? { fresh: r.fresh === true, counted: Number(r.counted), files: Number(r.files) } : null;
}

describe('the review summary at completion (completion.ts)', () => {
  const silent: StageContext = { logger: createRootLogger({ level: 'silent' }), messageId: 'again', deliveryCount: 2 };

  it('is up to date once the last file completes, without any read; a completion again counts nothing twice; a new upload is in it once it completes', async () => {
    const ref = { caseId: `case-summary-${randomBytes(3).toString('hex')}`, evidenceId: `ev-${randomBytes(4).toString('hex')}` };
    const a = await addUpload(ref, 'a.jpg', 'JPEG summary a');
    const b = await addUpload(ref, 'b.jpg', 'JPEG summary b');
    for (const m of [a, b]) await run('analyse', m);
    await run('index', a);
    expect(await reviewSummary(ref.caseId)).toBeNull();
    await run('index', b);
    expect(completions(ref)).toHaveLength(1);
    expect(await reviewSummary(ref.caseId)).toEqual({ fresh: true, counted: 2, files: 2 });

    // The completion delivered again (a redelivered message, the watchdog): one probe, nothing added.
    for (let i = 0; i < 2; i++) expect(await recordCompletionIfDone(deps, ref, silent)).toBe(true);
    expect(completions(ref)).toHaveLength(1);
    expect(await reviewSummary(ref.caseId)).toEqual({ fresh: true, counted: 2, files: 2 });

    // Another evidence item of the case arrives: the summary is stale (so unused) until it is complete, then counts it.
    const other = { ...ref, evidenceId: `ev-${randomBytes(4).toString('hex')}` };
    const c = await addUpload(other, 'c.jpg', 'JPEG summary c');
    expect(await reviewSummary(ref.caseId)).toEqual({ fresh: false, counted: 2, files: 3 });
    await run('analyse', c);
    await run('index', c);
    expect(completions(other)).toHaveLength(1);
    expect(await reviewSummary(ref.caseId)).toEqual({ fresh: true, counted: 3, files: 3 });
  });

  it('never fails or holds up the completion when the summary cannot be made', async () => {
    const ref = { caseId: `case-summary-${randomBytes(3).toString('hex')}`, evidenceId: `ev-${randomBytes(4).toString('hex')}` };
    const m = await addUpload(ref, 'a.jpg', 'JPEG summary broken');
    await run('analyse', m);
    const index = deps.index;
    const asked: number[] = [];
    deps = {
      ...deps,
      index: Object.create(index, {
        bringReviewSummaryUpToDate: {
          value: async (_caseId: string, options: { budgetMs: number }) => {
            asked.push(options.budgetMs);
            throw new ExhibitError('index-unavailable', 'the summary tables are gone');
          },
        },
      }) as typeof index,
    };
    try {
      expect((await run('index', m)).outcome).toMatchObject({ status: 'done' });
    } finally {
      deps = { ...deps, index };
    }
    expect(completions(ref)).toHaveLength(1);
    expect(asked).toEqual([LIMITS.reviewSummaryBudgetMs]);
    expect(await reviewSummary(ref.caseId)).toBeNull();
  });
  it('is left to the reads when a dead letter or the watchdog completes the evidence item (a pass may complete many: no refresh budget each)', async () => {
    const ref = { caseId: `case-summary-${randomBytes(3).toString('hex')}`, evidenceId: `ev-${randomBytes(4).toString('hex')}` };
    const m = await addUpload(ref, 'a.jpg', 'JPEG summary dead-lettered');
    const index = deps.index;
    const asked: string[] = [];
    deps = {
      ...deps,
      index: Object.create(index, {
        bringReviewSummaryUpToDate: {
          value: (caseId: string, options: { budgetMs: number; abortSignal?: AbortSignal }) => {
            asked.push(caseId);
            return index.bringReviewSummaryUpToDate!(caseId, options);
          },
        },
      }) as typeof index,
    };
    try {
      await runDeadLetter(deps, 'analyse', { body: m, messageId: messageIdFor('analyse', m.fileId), reason: 'MaxDeliveryCountExceeded', description: 'five attempts' }, { invocationId: 'test', logger: silent.logger });
      expect(completions(ref)).toHaveLength(1);
      // As the watchdog calls it once a stuck file completes the item (runtime watchdog.ts).
      expect(await recordCompletionIfDone(deps, ref, silent, { reviewSummary: false })).toBe(true);
      expect(asked).toEqual([]);
      expect(await reviewSummary(ref.caseId)).toBeNull();
      // A stage's own completion (delivered again) still brings it up to date.
      expect(await recordCompletionIfDone(deps, ref, silent)).toBe(true);
    } finally {
      deps = { ...deps, index };
    }
    expect(asked).toEqual([ref.caseId]);
    expect(await reviewSummary(ref.caseId)).toEqual({ fresh: true, counted: 1, files: 1 });
  });
});

describe('batches of files (stage-runner.ts)', () => {
  const silent = { invocationId: 'test', logger: createRootLogger({ level: 'silent' }) };
  /** Runs one batch message through the runner, counting statements and storage reads. */
  async function runBatch(queue: 'analyse' | 'index', files: FileMessage[], options: { deliveryCount?: number } = {}) {
    const before = counter.statements;
    const readsBefore = storageReads.count;
    const body = { caseId: files[0]!.caseId, evidenceId: files[0]!.evidenceId, fileIds: files.map((f) => f.fileId) };
    const outcome = await runMessage(deps, queue, { body, messageId: randomBytes(4).toString('hex'), deliveryCount: options.deliveryCount ?? 1 }, silent);
    return { outcome, statements: counter.statements - before, reads: storageReads.count - readsBefore };
  }
  const sentSince = (from: number, queue: string) => bus.sent.slice(from).filter((s) => s.queue === queue).map((s) => s.message);

  it('groups files into batch messages by evidence item, file count and bytes', () => {
    const a = { caseId: 'c', evidenceId: 'a' };
    const b = { caseId: 'c', evidenceId: 'b' };
    const files = [
      { ...a, fileId: 'a1', bytes: 10 },
      { ...b, fileId: 'b1', bytes: 10 },
      { ...a, fileId: 'a2', bytes: 10 },
      { ...a, fileId: 'a3', bytes: 90 },
      { ...a, fileId: 'a4', bytes: 500 },
      { ...a, fileId: 'a5' },
      { ...a, fileId: 'a1', bytes: 10 },
    ];
    expect(batchesOf(files, { maxFiles: 3, maxBytes: 100 }).map((batch) => batch.map((f) => f.fileId))).toEqual([['a1', 'a2'], ['a3'], ['a4'], ['a5'], ['b1']]);
    expect(batchesOf(files, { maxFiles: 2, maxBytes: Infinity }).map((batch) => batch.map((f) => f.fileId))).toEqual([['a1', 'a2'], ['a3', 'a4'], ['a5'], ['b1']]);
  });

  it('analyses a batch with one read of its files, routes them on in one index message, and indexes it in two statements', async () => {
    const ref = ev();
    const files = await Promise.all([1, 2, 3, 4].map((i) => addUpload(ref, `p${i}.jpg`, `JPEG photo ${i} of a batch`)));
    const doc = await addUpload(ref, 'n.txt', 'TEXT a note in the batch');
    const all = [...files, doc];
    const sent = bus.sent.length;
    // One read of the five files; one write per file (a photo's three steps in one).
    const analysed = await runBatch('analyse', all);
    expect(analysed).toMatchObject({ outcome: { status: 'done', summary: { files: 5, done: 5, skipped: 0, failed: 0, splitOff: 0 } }, statements: 1 + 5, reads: 5 });
    const toIndex = sentSince(sent, 'index');
    expect(toIndex).toEqual([
      { body: { ...ref, fileIds: all.map((f) => f.fileId) }, messageId: batchMessageIdFor('index', all.map((f) => f.fileId)), correlationId: `${ref.caseId}/${ref.evidenceId}` },
    ]);
    // A whole batch: one statement matches the hash sets, one moves the files and probes the evidence item (the note is still open).
    const indexed = await runBatch('index', files);
    expect(indexed).toMatchObject({ outcome: { status: 'done', summary: { files: 4, done: 4 } }, statements: 2 });
    expect(completions(ref)).toHaveLength(0);
    // The batch with the last open file: its write leaves no open work, and completion is recorded once.
    expect((await runBatch('index', all)).outcome).toMatchObject({ status: 'done', summary: { files: 5, done: 1, skipped: 4 } });
    for (const f of all) expect(await file(f)).toMatchObject({ stage: 'indexed' });
    expect(completions(ref)).toHaveLength(1);
    expect(completions(ref)[0]?.details).toMatchObject({ files: 5, failures: 0 });
    // Delivered again: nothing changes, nothing is recorded twice.
    expect((await runBatch('index', all)).outcome).toMatchObject({ status: 'done', summary: { files: 5, done: 0, skipped: 5 } });
    expect(completions(ref)).toHaveLength(1);
  });

  it('splits off a file whose stage throws, into a message of its own, and its siblings go on', async () => {
    const ref = ev();
    const files = await Promise.all([1, 2, 3].map((i) => addUpload(ref, `s${i}.jpg`, `JPEG sibling ${i}${i === 2 ? ' STORAGEDOWN' : ''}`)));
    const saved = deps.thumbnailer;
    deps.thumbnailer = {
      ...saved,
      image: async (source, options) => {
        if ((await readAll(source)).includes('STORAGEDOWN')) throw new ExhibitError('storage-unavailable', 'the derived container did not answer');
        return saved.image(source, options);
      },
    };
    const sent = bus.sent.length;
    try {
      expect((await runBatch('analyse', files)).outcome).toMatchObject({ status: 'done', summary: { files: 3, done: 2, splitOff: 1 } });
    } finally {
      deps.thumbnailer = saved;
    }
    const [one, two, three] = files as [FileMessage, FileMessage, FileMessage];
    expect(await file(one)).toMatchObject({ stage: 'thumbnailed' });
    expect(await file(three)).toMatchObject({ stage: 'thumbnailed' });
    // The thrown file is not failed: it waits where it was, with no failure recorded.
    expect(await file(two)).toMatchObject({ stage: 'described' });
    expect(failuresRecorded(two)).toEqual([]);
    expect(sentSince(sent, 'index').map((m) => m.body)).toEqual([{ ...ref, fileIds: [one.fileId, three.fileId] }]);
    const again = sentSince(sent, 'analyse');
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({ body: two, messageId: messageIdFor('analyse', two.fileId), scheduledAt: expect.any(Date) });
    // Alone, it runs its missing step, and a throw of a single file's message goes to the trigger (redelivery, dead letter) as before.
    expect((await run('analyse', two)).outcome).toMatchObject({ status: 'done', summary: { identify: 'already-done', metadata: 'already-done', thumbnail: { from: 'image' } } });
  });

  it('redelivered half done, routes the finished files again without reading them and splits off every other file', async () => {
    const ref = ev();
    const files = await Promise.all([1, 2, 3, 4].map((i) => addUpload(ref, `h${i}.jpg`, `JPEG half-done batch ${i}`)));
    const [one, two, three, four] = files as [FileMessage, FileMessage, FileMessage, FileMessage];
    // The first attempt analysed two files, then its process died.
    await run('analyse', one);
    await run('analyse', three);
    const identified = identifications.count;
    const sent = bus.sent.length;
    const again = await runBatch('analyse', files, { deliveryCount: 2 });
    expect(again.outcome).toMatchObject({ status: 'done', summary: { files: 4, done: 0, skipped: 2, splitOff: 2 } });
    // One read of the four files' records, and no bytes: the finished files skip, the others are not run here.
    expect(again).toMatchObject({ statements: 1, reads: 0 });
    expect(identifications.count).toBe(identified);
    expect(await file(two)).toMatchObject({ stage: 'pending' });
    expect(sentSince(sent, 'analyse')).toEqual(
      [two, four].map((f) => ({ body: f, messageId: messageIdFor('analyse', f.fileId), correlationId: `${ref.caseId}/${ref.evidenceId}` })),
    );
    expect(sentSince(sent, 'index').map((m) => m.body)).toEqual([{ ...ref, fileIds: [one.fileId, three.fileId] }]);
  });

  it('analyses the same bytes once when they come twice in one batch', async () => {
    const ref = ev();
    const first = await addUpload(ref, 'twin-a.jpg', 'JPEG twins in one batch');
    const second = await addUpload(ref, 'twin-b.jpg', 'JPEG twins in one batch');
    const identified = identifications.count;
    expect((await runBatch('analyse', [first, second])).outcome).toMatchObject({ status: 'done', summary: { files: 2, done: 2 } });
    expect(identifications.count).toBe(identified + 1);
    for (const f of [first, second]) expect(await file(f)).toMatchObject({ stage: 'thumbnailed' });
  });

  it('dead-letters per file: a batch given up on fails none of its files and sends each alone', async () => {
    const ref = ev();
    const files = await Promise.all([1, 2].map((i) => addUpload(ref, `d${i}.jpg`, `JPEG dead-lettered batch ${i}`)));
    const sent = bus.sent.length;
    const body = { ...ref, fileIds: files.map((f) => f.fileId) };
    await runDeadLetter(deps, 'analyse', { body, messageId: batchMessageIdFor('analyse', body.fileIds), reason: 'MaxDeliveryCountExceeded', description: 'five attempts' }, silent);
    for (const f of files) expect(await file(f)).toMatchObject({ stage: 'pending', failure: null });
    expect(sentSince(sent, 'analyse').map((m) => m.messageId)).toEqual(files.map((f) => messageIdFor('analyse', f.fileId)));
    // A single file's dead letter records its failure with the reason, as before batches.
    await runDeadLetter(deps, 'analyse', { body: files[0], messageId: messageIdFor('analyse', files[0]!.fileId), reason: 'MaxDeliveryCountExceeded', description: 'five attempts' }, silent);
    expect(await file(files[0]!)).toMatchObject({ stage: 'failed', failure: { stage: 'identify', code: 'dead-lettered', detail: 'MaxDeliveryCountExceeded: five attempts' } });
    expect(await file(files[1]!)).toMatchObject({ stage: 'pending' });
  });
});
