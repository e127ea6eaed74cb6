import type { ContentRecord, FileRecord } from '@exhibit/core';
import type { EvidenceStatusBody, FileDetailBody, SearchResultBody } from '../api/api-types.js';

/**
 * Realistic API bodies (shaped like the sample phone extraction EX01) for
 * the renderer tests. Data only.
 */
export const SHA = {
  zip: '5f0c2a9e0d1b7c4e8a3f6b2d9c1e0a7b4f8d2c6e1a9b3f7d0c5e2a8b6f4d1c3e',
  photo: 'a3c1f0e29b7d4c6a8e2f1b0d9c7a5e3f2b1d0c9a8e7f6d5c4b3a2f1e0d9c8b7a',
  notes: '0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c',
};

export const status: EvidenceStatusBody = {
  caseId: 'C1',
  evidenceId: 'EX01',
  uploads: [
    {
      caseId: 'C1',
      evidenceId: 'EX01',
      blobName: 'C1/EX01/phone-extraction.zip',
      fileName: 'phone-extraction.zip',
      rootFileId: 'f1a2b3c4d5e6f708192a3b4c5d6e7f8',
      size: 4_823_117,
      etag: '"0x8DC1"',
      versionId: null,
      contentType: 'application/octet-stream',
      lastModified: '2024-05-01T10:00:00.000Z',
      receivedAt: '2024-05-01T10:00:01.000Z',
      acquisition: { examiner: 'Zoë Ørsted', exhibitRef: 'ZO/1', sha256: SHA.zip },
      hashes: { md5: '9e107d9d372bb6826bd81d3542a419d6', sha1: '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12', sha256: SHA.zip },
      integrity: 'verified',
      mismatches: [],
      hashedAt: '2024-05-01T10:00:03.000Z',
      changedAfterReceipt: null,
    },
  ],
  files: { total: 24, byStage: { pending: 0, identified: 1, described: 0, thumbnailed: 0, indexed: 21, failed: 2 } },
  stages: {
    hash: { done: 1, failed: 0, pending: 0 },
    identify: { done: 24, failed: 0, pending: 0 },
    unpack: { done: 3, failed: 0, pending: 0 },
    metadata: { done: 21, failed: 1, pending: 1 },
    thumbnail: { done: 19, failed: 2, pending: 1 },
    index: { done: 21, failed: 2, pending: 1 },
  },
  failures: [
    {
      fileId: 'fcorrupt000000000000000000000000',
      path: 'phone-extraction.zip!/DCIM/Camera/IMG_CORRUPT.jpg',
      stage: 'thumbnail',
      code: 'decode-failed',
      detail: 'JPEG data is corrupt and there is no embedded preview',
    },
    {
      fileId: 'fevil0000000000000000000000000000',
      path: 'phone-extraction.zip!/\u001b[2Jevil.txt',
      stage: 'unpack',
      code: 'unsafe-entry',
      detail: 'name holds control characters',
    },
  ],
  findings: [{ fileId: 'fnotes000000000000000000000000000', path: 'phone-extraction.zip!/Documents/notes.txt', flag: 'ext-mismatch', detail: '.txt but image/jpeg' }],
  knownFiles: { knownBad: 0, notable: 0, knownGood: 0 },
  diskImages: [],
  imageSegments: { declared: [], orphans: [] },
  complete: false,
};

const photoFile: FileRecord = {
  fileId: 'fphoto00000000000000000000000001',
  caseId: 'C1',
  evidenceId: 'EX01',
  parentId: 'f1a2b3c4d5e6f708192a3b4c5d6e7f8',
  entryIndex: 4,
  depth: 1,
  path: 'phone-extraction.zip!/DCIM/Camera/IMG_0001.jpg',
  recordedName: 'DCIM/Camera/IMG_0001.jpg',
  name: 'IMG_0001.jpg',
  extension: 'jpg',
  entryKind: 'file',
  size: 245_760,
  sha256: SHA.photo,
  source: { container: 'derived', name: `content/a3/${SHA.photo}` },
  archiveTimes: { modified: { local: '2023-08-14T16:20:05', offsetMinutes: null, utc: null, source: 'zip:dos-time' } },
  flags: [],
  stage: 'indexed',
  failure: null,
  unpack: 'n/a',
  memberCount: null,
  createdAt: '2024-05-01T10:00:05.000Z',
};

const photoContent: ContentRecord = {
  sha256: SHA.photo,
  md5: 'd41d8cd98f00b204e9800998ecf8427e',
  sha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
  size: 245_760,
  source: { container: 'derived', name: `content/a3/${SHA.photo}` },
  mime: 'image/jpeg',
  detectedExt: 'jpg',
  kind: 'image',
  metadata: {
    takenAt: { local: '2023-08-14T17:20:05', offsetMinutes: -180, utc: '2023-08-14T20:20:05Z', source: 'exif:DateTimeOriginal+OffsetTimeOriginal' },
    gps: { lat: -22.95192, lon: -43.21049, altM: 710 },
    make: 'samsung',
    model: 'SM-G991B',
    width: 2000,
    height: 1500,
    orientation: 6,
    raw: {},
  },
  metadataStatus: 'done',
  thumbnail: { container: 'derived', name: `thumbnails/a3/${SHA.photo}.t320q80.jpg` },
  thumbnailSource: 'image',
  thumbnailStatus: 'done',
  failure: null,
  tools: { identify: [{ name: 'file-type', version: '21.0.0' }], metadata: [{ name: 'exifr', version: '7.1.3' }] },
};

const notesFile: FileRecord = {
  ...photoFile,
  fileId: 'fnotes000000000000000000000000000',
  entryIndex: 9,
  path: 'phone-extraction.zip!/Documents/notes.txt',
  recordedName: 'Documents/notes.txt',
  name: 'notes.txt',
  extension: 'txt',
  size: 1200,
  sha256: SHA.notes,
  flags: ['ext-mismatch'],
  archiveTimes: {},
};

const notesContent: ContentRecord = {
  ...photoContent,
  sha256: SHA.notes,
  size: 1200,
  metadata: { takenAt: { local: '2022-01-02T03:04:05', offsetMinutes: null, utc: null, source: 'exif:DateTimeOriginal' }, make: 'Google', model: 'Pixel 7', raw: {} },
};

export const searchResult: SearchResultBody = {
  total: 3,
  totalIsLowerBound: false,
  limit: 2,
  offset: 0,
  nextCursor: 'eyJ2IjoxfQ',
  items: [
    { file: photoFile, content: photoContent },
    { file: notesFile, content: notesContent },
  ],
};

export const fileDetail: FileDetailBody = {
  file: photoFile,
  content: photoContent,
  provenance: {
    chain: [
      {
        fileId: photoFile.fileId,
        path: photoFile.path,
        name: photoFile.name,
        depth: 1,
        entryIndex: 4,
        entryKind: 'file',
        sha256: SHA.photo,
        size: 245_760,
        source: photoFile.source,
        mime: 'image/jpeg',
        tools: {},
      },
      {
        fileId: 'f1a2b3c4d5e6f708192a3b4c5d6e7f8',
        path: 'phone-extraction.zip',
        name: 'phone-extraction.zip',
        depth: 0,
        entryIndex: null,
        entryKind: 'file',
        sha256: SHA.zip,
        size: 4_823_117,
        source: { container: 'evidence', name: 'C1/EX01/phone-extraction.zip' },
        mime: 'application/zip',
        tools: {},
      },
    ],
    upload: status.uploads[0] ?? null,
    complete: true,
  },
};
