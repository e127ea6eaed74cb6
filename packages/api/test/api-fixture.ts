import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createRootLogger,
  derivedNames,
  memberFileId,
  rootFileId,
  type AccessStore,
  type BlobRef,
  type BlobStore,
  type CustodyEvent,
  type CustodyRecorder,
  type FileKind,
  type IndexStore,
  type Logger,
  type NewFile,
  type Role,
} from '@exhibit/core';
import { createPostgresAccessStore, createPostgresIndex, createPostgresReviewStore, migrate, openSqlClient, type SqlClient } from '@exhibit/index';
import { createAzureAppendLog, createAzureBlobStore } from '@exhibit/storage';
import { createCustodyLog, createLocalSigner, type CustodyLog } from '@exhibit/custody';
import yauzl from 'yauzl';
import yazl from 'yazl';
import { createLocalTokenVerifier, issueLocalToken } from '../src/auth/local-token.js';
import type { Api, ApiDeps, ApiRequest, ApiResponse } from '../src/api.types.js';

/**
 * Real parts for API tests: an in-memory PGlite index with every migration,
 * Azurite blob storage (fresh containers per fixture), local tokens signed
 * with a throw-away key.
 */
export interface ApiFixture {
  deps: ApiDeps;
  sql: SqlClient;
  index: IndexStore;
  blobs: BlobStore;
  access: AccessStore;
  /** Custody events in the order the API recorded them. */
  custodyEvents: CustodyEvent[];
  /** A real custody log (own container), serving deps.extensions.custodyAudit. */
  custodyLog: CustodyLog;
  /** The container holding custodyLog's segments (for tests that damage a log). */
  custodyContainer: string;
  /** Methods of the index and blob store called since the last reset. */
  touched: string[];
  keyDir: string;
  token(user: string, roles: Role[]): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * Records into a list. The custody log (packages/custody) is built in
 * parallel; this stands in for it until it can be wired here, and lets the
 * tests read back exactly what the API asked to record. Once per eventKey in
 * an evidence item's log, as the real log promises (kept apart from the list,
 * which tests empty).
 */
function listRecorder(events: CustodyEvent[]): CustodyRecorder {
  const keys = new Set<string>();
  return {
    async record(event) {
      if (event.eventKey) {
        const key = JSON.stringify([event.caseId, event.evidenceId, event.eventKey]);
        if (keys.has(key)) return;
        keys.add(key);
      }
      events.push(structuredClone(event));
    },
  };
}

/** Passes every call through, noting its name: proves a denied request read nothing. */
function noting<T extends object>(target: T, label: string, touched: string[]): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        touched.push(`${label}.${String(prop)}`);
        return (value as (...a: unknown[]) => unknown).apply(obj, args);
      };
    },
  });
}

export async function createApiFixture(
  connectionString: string,
  /** sql: an index database of the caller's (a bench on the server); migrated here, closed by dispose. Default: PGlite in memory. */
  options: { logger?: Logger; sql?: SqlClient } = {},
): Promise<ApiFixture> {
  const sql = options.sql ?? (await openSqlClient({ kind: 'pglite', dataDir: 'memory://' }));
  await migrate(sql);
  const index = createPostgresIndex(sql);
  const access = createPostgresAccessStore(sql);
  const suffix = randomBytes(4).toString('hex');
  const containers = { evidence: `evidence-${suffix}`, derived: `derived-${suffix}` };
  const blobs = createAzureBlobStore({ connectionString });
  await blobs.ensureContainer(containers.evidence);
  await blobs.ensureContainer(containers.derived);
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-api-keys-'));
  const custodyEvents: CustodyEvent[] = [];
  const touched: string[] = [];
  const custodyContainer = `custody-${suffix}`;
  const appendLog = createAzureAppendLog({ connectionString, container: custodyContainer });
  await appendLog.ensureContainer();
  const custodyLog = createCustodyLog({
    appendLog,
    blobs,
    sql,
    signer: await createLocalSigner(path.join(keyDir, 'custody')),
    containers: { custody: custodyContainer, evidence: containers.evidence },
    logger: createRootLogger({ level: 'silent' }),
  });
  const deps: ApiDeps = {
    index: noting(index, 'index', touched),
    blobs: noting(blobs, 'blobs', touched),
    access,
    custody: listRecorder(custodyEvents),
    tokens: createLocalTokenVerifier({ keyDir }),
    containers,
    logger: options.logger ?? createRootLogger({ level: 'silent' }),
    extensions: { custodyAudit: custodyLog, review: noting(createPostgresReviewStore(sql), 'review', touched) },
  };
  return {
    deps,
    sql,
    index,
    blobs,
    access,
    custodyEvents,
    custodyLog,
    custodyContainer,
    touched,
    keyDir,
    token: async (user, roles) => (await issueLocalToken({ user, roles, ttlMs: 3_600_000 }, { keyDir })).token,
    async dispose() {
      await sql.close();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}

const hashes = (bytes: Buffer) => ({
  md5: createHash('md5').update(bytes).digest('hex'),
  sha1: createHash('sha1').update(bytes).digest('hex'),
  sha256: createHash('sha256').update(bytes).digest('hex'),
});

export interface SeededCase {
  caseId: string;
  evidenceId: string;
  blobName: string;
  rootFileId: string;
  rootSha256: string;
  photoFileId: string;
  photoSha256: string;
  photoBytes: Buffer;
  thumbnailBytes: Buffer;
  /** The photo's embedded EXIF preview as stored beside its thumbnail. */
  previewBytes: Buffer;
  /** A file that has no thumbnail (the archive itself). */
  noThumbnailFileId: string;
}

/**
 * An archive uploaded to the evidence container and recorded as received and
 * hashed, with its root file as the pipeline first records it.
 */
async function seedUpload(
  f: ApiFixture,
  upload: { caseId: string; evidenceId: string; fileName: string; bytes: Buffer; exhibitRef: string },
): Promise<{ blobName: string; rootId: string; archive: ReturnType<typeof hashes>; source: BlobRef; root: NewFile }> {
  const { caseId, evidenceId, fileName, bytes } = upload;
  const blobName = `${caseId}/${evidenceId}/${fileName}`;
  const source = { container: f.deps.containers.evidence, name: blobName };
  const archive = hashes(bytes);
  const uploaded = await f.blobs.upload(source, bytes, { contentType: 'application/zip' });
  const rootId = rootFileId(blobName);
  await f.index.recordUpload({
    caseId,
    evidenceId,
    blobName,
    fileName,
    rootFileId: rootId,
    size: bytes.length,
    etag: uploaded.etag,
    versionId: null,
    contentType: 'application/zip',
    lastModified: new Date().toISOString(),
    acquisition: { examiner: 'DC Test', exhibitRef: upload.exhibitRef },
  });
  await f.index.recordUploadHashes(blobName, archive, 'no-reference', []);
  const root: NewFile = {
    fileId: rootId,
    caseId,
    evidenceId,
    parentId: null,
    entryIndex: null,
    depth: 0,
    path: fileName,
    recordedName: fileName,
    name: fileName,
    extension: 'zip',
    entryKind: 'file',
    size: bytes.length,
    sha256: archive.sha256,
    source,
    archiveTimes: {},
    flags: [],
    stage: 'pending',
    failure: null,
  };
  return { blobName, rootId, archive, source, root };
}

/**
 * One evidence item as the pipeline would leave it: an uploaded archive
 * holding one photo that was identified, described and thumbnailed. Written
 * through the IndexStore and BlobStore ports only.
 */
export async function seedCase(f: ApiFixture, caseId: string, evidenceId = 'EX01'): Promise<SeededCase> {
  const { index, blobs } = f;
  const { derived } = f.deps.containers;
  const fileName = 'phone.zip';
  const archiveBytes = Buffer.from(`PK archive stand-in for ${caseId}/${evidenceId}/${fileName}`);
  const photoBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(`photo of ${caseId}`)]);
  const thumbnailBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xdb]), Buffer.from(`thumbnail of ${caseId}`)]);
  const previewBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xdb]), Buffer.from(`embedded preview of ${caseId}`)]);
  const photo = hashes(photoBytes);
  const { blobName, rootId, archive, source: archiveSource, root } = await seedUpload(f, { caseId, evidenceId, fileName, bytes: archiveBytes, exhibitRef: `${caseId}/1` });

  const photoId = memberFileId(rootId, 0);
  const photoSource = { container: derived, name: derivedNames.content(photo.sha256) };
  const thumbnail = { container: derived, name: derivedNames.thumbnail(photo.sha256, 't320q80') };
  await blobs.upload(photoSource, photoBytes, { contentType: 'application/octet-stream' });
  await blobs.upload(thumbnail, thumbnailBytes, { contentType: 'image/jpeg' });
  const preview = { container: derived, name: derivedNames.embeddedPreview(photo.sha256) };
  await blobs.upload(preview, previewBytes, { contentType: 'image/jpeg' });

  await index.insertFiles([
    root,
    {
      fileId: photoId,
      caseId,
      evidenceId,
      parentId: rootId,
      entryIndex: 0,
      depth: 1,
      path: `${fileName}!/DCIM/IMG_0001.jpg`,
      recordedName: 'DCIM/IMG_0001.jpg',
      name: 'IMG_0001.jpg',
      extension: 'jpg',
      entryKind: 'file',
      size: photoBytes.length,
      sha256: photo.sha256,
      source: photoSource,
      archiveTimes: { modified: { local: '2023-07-14 09:30:00', offsetMinutes: null, utc: null, source: 'zip-dos' } },
      flags: [],
      stage: 'pending',
      failure: null,
    },
  ]);
  await index.ensureContent({ ...archive, size: archiveBytes.length, source: archiveSource });
  await index.setIdentification(archive.sha256, { mime: 'application/zip', detectedExt: 'zip', kind: 'archive', tools: [{ name: 'file-type', version: '21.0.0' }] });
  await index.ensureContent({ ...photo, size: photoBytes.length, source: photoSource });
  await index.setIdentification(photo.sha256, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: [{ name: 'file-type', version: '21.0.0' }] });
  await index.setMetadata(photo.sha256, {
    status: 'done',
    metadata: {
      takenAt: { local: '2023-07-14T09:30:00', offsetMinutes: 60, utc: '2023-07-14T08:30:00Z', source: 'EXIF:DateTimeOriginal' },
      modifiedAt: { local: '2023-08-01T10:00:00', offsetMinutes: null, utc: null, source: 'EXIF:ModifyDate' },
      gps: { lat: -22.9068, lon: -43.1729 },
      make: 'Canon',
      model: 'Canon EOS 80D',
      width: 480,
      height: 360,
      declaredWidth: 2272,
      declaredHeight: 1704,
      findings: [{ flag: 'size-mismatch', detail: 'EXIF declares 2272x1704; the image is 480x360' }],
      raw: { Make: 'Canon' },
    },
    tools: [{ name: 'exifr', version: '7.1.3' }],
  });
  await index.setThumbnail(photo.sha256, { status: 'done', blob: thumbnail, source: 'image', preview, tools: [{ name: 'sharp', version: '0.34.0' }] });
  await index.advanceFile(rootId, 'indexed');
  await index.setUnpack(rootId, 'done', 1);
  await index.advanceFile(photoId, 'indexed');
  f.touched.length = 0;
  return {
    caseId,
    evidenceId,
    blobName,
    rootFileId: rootId,
    rootSha256: archive.sha256,
    photoFileId: photoId,
    photoSha256: photo.sha256,
    photoBytes,
    thumbnailBytes,
    previewBytes,
    noThumbnailFileId: rootId,
  };
}

export interface SeededStoredMember {
  caseId: string;
  evidenceId: string;
  /** The uploaded ZIP in the evidence container. */
  blobName: string;
  zipBytes: Buffer;
  rootFileId: string;
  /** A member stored uncompressed, read in place: its source is a span of the ZIP. */
  memberFileId: string;
  memberSha256: string;
  memberBytes: Buffer;
  /** Where the member's data starts in the ZIP, as the archive's local header says. */
  memberOffset: number;
}

/**
 * One evidence item whose archive is a real ZIP of STORED members, the
 * photo recorded as the pipeline records such a member: no copy, its file
 * and content sources a span of the evidence blob. A text member comes first
 * so the photo's offset is well inside the archive.
 */
export async function seedStoredMember(f: ApiFixture, caseId: string, evidenceId = 'EX01'): Promise<SeededStoredMember> {
  const { index } = f;
  const fileName = 'stored.zip';
  const memberBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(3000), Buffer.from(`stored photo of ${caseId}`)]);
  const { zip, members } = await storedZip([
    { name: 'notes.txt', bytes: Buffer.from(`notes for ${caseId}\n`.repeat(20)) },
    { name: 'DCIM/IMG_0002.jpg', bytes: memberBytes },
  ]);
  const member = members[1]!;
  const photo = hashes(memberBytes);
  const { blobName, rootId, archive, source: archiveSource, root } = await seedUpload(f, { caseId, evidenceId, fileName, bytes: zip, exhibitRef: `${caseId}/2` });
  const memberSource = { ...archiveSource, offset: member.start };
  const memberId = memberFileId(rootId, 1);
  await index.insertFiles([
    root,
    {
      fileId: memberId,
      caseId,
      evidenceId,
      parentId: rootId,
      entryIndex: 1,
      depth: 1,
      path: `${fileName}!/DCIM/IMG_0002.jpg`,
      recordedName: 'DCIM/IMG_0002.jpg',
      name: 'IMG_0002.jpg',
      extension: 'jpg',
      entryKind: 'file',
      size: memberBytes.length,
      sha256: photo.sha256,
      source: memberSource,
      archiveTimes: {},
      flags: [],
      stage: 'pending',
      failure: null,
    },
  ]);
  await index.ensureContent({ ...archive, size: zip.length, source: archiveSource });
  await index.ensureContent({ ...photo, size: memberBytes.length, source: memberSource });
  await index.setIdentification(photo.sha256, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: [{ name: 'file-type', version: '21.0.0' }] });
  await index.advanceFile(rootId, 'indexed');
  await index.setUnpack(rootId, 'done', 2);
  await index.advanceFile(memberId, 'indexed');
  f.touched.length = 0;
  return {
    caseId,
    evidenceId,
    blobName,
    zipBytes: zip,
    rootFileId: rootId,
    memberFileId: memberId,
    memberSha256: photo.sha256,
    memberBytes,
    memberOffset: member.start,
  };
}

export interface SeededStoredTwins {
  caseId: string;
  evidenceId: string;
  blobName: string;
  /** What both members are recorded to be (size and SHA-256): the first member's bytes. */
  recordedBytes: Buffer;
  sha256: string;
  /** The first member holds recordedBytes; the second, at another offset, the same length with one byte changed. */
  good: { fileId: string; offset: number };
  corrupted: { fileId: string; offset: number };
}

/**
 * One evidence item whose archive is a ZIP of two STORED members of the same length, both recorded (as
 * read in place, spans of the evidence blob) with the SHA-256 of the first; the second's stored bytes
 * differ in one byte, as a member damaged in storage after it was hashed would. Only the offset tells
 * the two spans apart: a record of the first's check must not vouch for the second.
 */
export async function seedStoredTwins(f: ApiFixture, caseId: string, evidenceId = 'EX01'): Promise<SeededStoredTwins> {
  const { index } = f;
  const fileName = 'twins.zip';
  const recordedBytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(4000)]);
  const damaged = Buffer.from(recordedBytes);
  damaged[2000] = damaged[2000]! ^ 0xff;
  const { zip, members } = await storedZip([
    { name: 'a.jpg', bytes: recordedBytes },
    { name: 'b.jpg', bytes: damaged },
  ]);
  const photo = hashes(recordedBytes);
  const { blobName, rootId, archive, source: archiveSource, root } = await seedUpload(f, { caseId, evidenceId, fileName, bytes: zip, exhibitRef: `${caseId}/3` });
  const fileOf = (entryIndex: number, name: string, offset: number): NewFile => ({
    fileId: memberFileId(rootId, entryIndex),
    caseId,
    evidenceId,
    parentId: rootId,
    entryIndex,
    depth: 1,
    path: `${fileName}!/${name}`,
    recordedName: name,
    name,
    extension: 'jpg',
    entryKind: 'file',
    size: recordedBytes.length,
    sha256: photo.sha256,
    source: { ...archiveSource, offset },
    archiveTimes: {},
    flags: [],
    stage: 'pending',
    failure: null,
  });
  const first = members[0]!;
  const second = members[1]!;
  await index.insertFiles([root, fileOf(0, 'a.jpg', first.start), fileOf(1, 'b.jpg', second.start)]);
  await index.ensureContent({ ...archive, size: zip.length, source: archiveSource });
  await index.ensureContent({ ...photo, size: recordedBytes.length, source: { ...archiveSource, offset: first.start } });
  await index.setIdentification(photo.sha256, { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image', tools: [{ name: 'file-type', version: '21.0.0' }] });
  await index.advanceFile(rootId, 'indexed');
  await index.setUnpack(rootId, 'done', 2);
  await index.advanceFile(memberFileId(rootId, 0), 'indexed');
  await index.advanceFile(memberFileId(rootId, 1), 'indexed');
  f.touched.length = 0;
  return {
    caseId,
    evidenceId,
    blobName,
    recordedBytes,
    sha256: photo.sha256,
    good: { fileId: memberFileId(rootId, 0), offset: first.start },
    corrupted: { fileId: memberFileId(rootId, 1), offset: second.start },
  };
}

/**
 * Another occurrence of `stored`'s member span, entry `entryIndex` of its archive, recorded with a SHA-256 its bytes
 * do not have (a damaged or tampered index row, or a changed blob as it would look): for the byte routes' hash checks.
 * Its file id.
 */
export async function seedMemberWithWrongHash(f: ApiFixture, stored: SeededStoredMember, entryIndex: number): Promise<string> {
  const fileId = memberFileId(stored.rootFileId, entryIndex);
  await f.index.insertFiles([
    indexedMemberRow({
      fileId,
      caseId: stored.caseId,
      evidenceId: stored.evidenceId,
      parentId: stored.rootFileId,
      entryIndex,
      archiveName: 'stored.zip',
      name: `wrong-${entryIndex}.jpg`,
      size: stored.memberBytes.length,
      sha256: createHash('sha256').update(`not the member ${entryIndex}`).digest('hex'),
      source: { container: f.deps.containers.evidence, name: stored.blobName, offset: stored.memberOffset },
    }),
  ]);
  return fileId;
}

/** The index row of an archive's member `name` (at the archive's top, depth 1), analysed: stage indexed, no failure. */
export function indexedMemberRow(member: Pick<NewFile, 'fileId' | 'caseId' | 'evidenceId' | 'parentId' | 'entryIndex' | 'size' | 'sha256' | 'source'> & { archiveName: string; name: string }): NewFile {
  const { archiveName, name, ...row } = member;
  return {
    ...row,
    depth: 1,
    path: `${archiveName}!/${name}`,
    recordedName: name,
    name,
    extension: name.split('.').pop()!.toLowerCase(),
    entryKind: 'file',
    archiveTimes: {},
    flags: [],
    stage: 'indexed',
    failure: null,
  };
}

/**
 * A ZIP whose members are all STORED, with where each member's data starts
 * as yauzl reads it from the local header (not computed by the test itself).
 */
async function storedZip(members: Array<{ name: string; bytes: Buffer }>): Promise<{ zip: Buffer; members: Array<{ start: number; size: number }> }> {
  const writer = new yazl.ZipFile();
  for (const m of members) writer.addBuffer(m.bytes, m.name, { compress: false, mtime: new Date(Date.UTC(2024, 0, 1)) });
  writer.end();
  const chunks: Buffer[] = [];
  for await (const chunk of writer.outputStream) chunks.push(chunk as Buffer);
  const zip = Buffer.concat(chunks);
  const reader = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const found: Array<{ start: number; size: number }> = [];
  try {
    for await (const entry of reader.eachEntry()) {
      if (entry.compressionMethod !== 0) throw new Error(`${entry.fileName} is not stored`);
      const { fileDataStart } = await reader.readLocalFileHeaderPromise(entry, { minimal: true });
      found.push({ start: fileDataStart, size: entry.uncompressedSize });
    }
  } finally {
    reader.close();
  }
  return { zip, members: found };
}

/** Calls `api` as `user` with `roles` (a token from the fixture); `json` is the body. */
export async function callAs(
  f: ApiFixture,
  api: Api,
  user: string,
  roles: Role[],
  req: Partial<ApiRequest> & { path: string },
): Promise<ApiResponse & { json: any }> {
  const token = await f.token(user, roles);
  const res = await api.handle({ method: 'GET', query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` }, ...req });
  return { ...res, json: res.body };
}

export interface SeededLooseFile {
  fileId: string;
  sha256: string;
  bytes: Buffer;
  blobName: string;
}

/**
 * Files uploaded on their own (each its own evidence item, the upload is the
 * file), identified as given: for routes that decide by what the index says a
 * content is (playback: video and audio only).
 */
export async function seedLooseFiles(
  f: ApiFixture,
  caseId: string,
  files: Array<{ evidenceId: string; fileName: string; bytes: Buffer; mime: string | null; detectedExt: string | null; kind: FileKind | null }>,
): Promise<SeededLooseFile[]> {
  const seeded: SeededLooseFile[] = [];
  for (const file of files) {
    const { blobName, rootId, archive, source, root } = await seedUpload(f, { caseId, evidenceId: file.evidenceId, fileName: file.fileName, bytes: file.bytes, exhibitRef: `${caseId}/${file.evidenceId}` });
    const extension = file.fileName.includes('.') ? file.fileName.split('.').pop()!.toLowerCase() : null;
    await f.index.insertFiles([{ ...root, extension }]);
    await f.index.ensureContent({ ...archive, size: file.bytes.length, source });
    // kind null: received and hashed, not identified yet.
    if (file.kind !== null) await f.index.setIdentification(archive.sha256, { mime: file.mime, detectedExt: file.detectedExt, kind: file.kind, tools: [{ name: 'file-type', version: '21.0.0' }] });
    seeded.push({ fileId: rootId, sha256: archive.sha256, bytes: file.bytes, blobName });
  }
  f.touched.length = 0;
  return seeded;
}
