import { createHash } from 'node:crypto';
import { memberFileId, rootFileId, type FileFlag, type MediaMetadata, type NewFile, type NewUpload } from '@exhibit/core';

export function hashesOf(text: string) {
  const h = (alg: string) => createHash(alg).update(text).digest('hex');
  return { md5: h('md5'), sha1: h('sha1'), sha256: h('sha256') };
}

/** Hamming distance of two PDQ hashes (64 hex digits each): the brute force the index's answers are checked against. */
export function pdqDistance(a: string, b: string): number {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  let n = 0;
  for (let i = 0; i < 32; i++) for (let v = x[i]! ^ y[i]!; v; v &= v - 1) n++;
  return n;
}

export function newUpload(caseId: string, evidenceId: string, fileName: string, over: Partial<NewUpload> = {}): NewUpload {
  const blobName = `${caseId}/${evidenceId}/${fileName}`;
  return {
    caseId,
    evidenceId,
    blobName,
    fileName,
    rootFileId: rootFileId(blobName),
    size: 1234,
    etag: '"0x8D0001"',
    versionId: '2024-05-01T10:00:00.0000000Z',
    contentType: 'application/zip',
    lastModified: '2024-05-01T10:00:00.000Z',
    acquisition: { examiner: 'DC Smith', exhibitRef: 'JS/1', sha256: hashesOf(fileName).sha256 },
    ...over,
  };
}

export function rootFile(upload: NewUpload, over: Partial<NewFile> = {}): NewFile {
  const dot = upload.fileName.lastIndexOf('.');
  return {
    fileId: upload.rootFileId,
    caseId: upload.caseId,
    evidenceId: upload.evidenceId,
    parentId: null,
    entryIndex: null,
    depth: 0,
    path: upload.fileName,
    recordedName: upload.fileName,
    name: upload.fileName,
    extension: dot > 0 ? upload.fileName.slice(dot + 1).toLowerCase() : null,
    entryKind: 'file',
    size: upload.size,
    sha256: null,
    source: { container: 'evidence', name: upload.blobName },
    archiveTimes: {},
    flags: [],
    stage: 'pending',
    failure: null,
    ...over,
  };
}

/** A member of `parent` at `entryIndex`, named by its path inside the archive. */
export function member(parent: NewFile, entryIndex: number, memberPath: string, over: Partial<NewFile> = {}): NewFile {
  const name = memberPath.split('/').pop() ?? memberPath;
  const dot = name.lastIndexOf('.');
  const sha256 = over.sha256 === undefined ? hashesOf(`${parent.fileId}/${memberPath}`).sha256 : over.sha256;
  return {
    fileId: memberFileId(parent.fileId, entryIndex),
    caseId: parent.caseId,
    evidenceId: parent.evidenceId,
    parentId: parent.fileId,
    entryIndex,
    depth: parent.depth + 1,
    path: `${parent.path}!/${memberPath}`,
    recordedName: memberPath,
    name,
    extension: dot > 0 ? name.slice(dot + 1).toLowerCase() : null,
    entryKind: 'file',
    size: 100 + entryIndex,
    sha256,
    source: sha256 ? { container: 'derived', name: `content/${sha256.slice(0, 2)}/${sha256}` } : null,
    archiveTimes: { modified: { local: '2023-12-24 18:00:00', offsetMinutes: null, utc: null, source: 'zip-dos' } },
    flags: [] as FileFlag[],
    stage: 'pending',
    failure: null,
    ...over,
  };
}

export function photo(over: Partial<MediaMetadata> = {}): MediaMetadata {
  return {
    takenAt: { local: '2023:07:14 09:30:00', offsetMinutes: 120, utc: '2023-07-14T07:30:00.000Z', source: 'exif:DateTimeOriginal+OffsetTimeOriginal' },
    gps: { lat: 51.5074, lon: -0.1278 },
    make: 'Canon',
    model: 'Canon EOS 80D',
    width: 6000,
    height: 4000,
    raw: { Make: 'Canon', Model: 'Canon EOS 80D' },
    ...over,
  };
}

export const TOOLS = [{ name: 'exifr', version: '7.1.3' }];
