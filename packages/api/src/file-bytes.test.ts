import { describe, expect, it } from 'vitest';
import { ExhibitError, type ContentRecord, type FileRecord } from '@exhibit/core';
import { locateFileBytes } from './file-bytes.js';

const archive = { container: 'evidence', name: 'CASE-1/EX01/phone.zip' };
const copy = { container: 'derived', name: 'content/ab/abcd' };

function file(patch: Partial<FileRecord>): FileRecord {
  return {
    fileId: 'f1',
    caseId: 'CASE-1',
    evidenceId: 'EX01',
    parentId: 'f0',
    entryIndex: 0,
    depth: 1,
    path: 'phone.zip!/a.jpg',
    recordedName: 'a.jpg',
    name: 'a.jpg',
    extension: 'jpg',
    entryKind: 'file',
    size: 10,
    sha256: 'ab'.repeat(32),
    source: null,
    archiveTimes: {},
    flags: [],
    stage: 'indexed',
    failure: null,
    unpack: 'n/a',
    memberCount: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    ...patch,
  } as FileRecord;
}

function content(patch: Partial<ContentRecord>): ContentRecord {
  return { sha256: 'ab'.repeat(32), md5: '', sha1: '', size: 10, source: copy, ...patch } as ContentRecord;
}

describe('locateFileBytes', () => {
  it('gives a whole blob without a range, and never passes the offset field on as part of the blob', () => {
    expect(locateFileBytes(file({ source: copy }), null)).toEqual({ blob: copy, range: null, from: 'file' });
    expect(locateFileBytes(file({ source: { ...copy, offset: undefined } }), null)).toEqual({ blob: copy, range: null, from: 'file' });
  });

  it("gives a span of the archive with the file's size as the length", () => {
    const bytes = locateFileBytes(file({ source: { ...archive, offset: 4096 }, size: 123 }), content({ size: 999 }));
    expect(bytes).toEqual({ blob: archive, range: { offset: 4096, length: 123 }, from: 'file' });
    expect(Object.keys(bytes!.blob).sort()).toEqual(['container', 'name']);
  });

  it("falls back to the content's source, with the content's size", () => {
    expect(locateFileBytes(file({ source: null, size: null }), content({ source: { ...archive, offset: 0 }, size: 7 }))).toEqual({
      blob: archive,
      range: { offset: 0, length: 7 },
      from: 'content',
    });
    expect(locateFileBytes(file({ source: null }), content({}))).toEqual({ blob: copy, range: null, from: 'content' });
  });

  it('prefers the file\'s own source over the content\'s', () => {
    expect(locateFileBytes(file({ source: copy }), content({ source: { ...archive, offset: 50 } }))).toEqual({ blob: copy, range: null, from: 'file' });
  });

  it('has nothing for entries that are not regular files or have no bytes stored', () => {
    expect(locateFileBytes(file({ entryKind: 'directory', source: copy }), null)).toBeNull();
    expect(locateFileBytes(file({ source: null }), null)).toBeNull();
  });

  it('refuses a span it cannot bound rather than hand out the whole archive', () => {
    for (const patch of [
      { source: { ...archive, offset: 10 }, size: null },
      { source: { ...archive, offset: -1 }, size: 5 },
      { source: { ...archive, offset: 1.5 }, size: 5 },
      { source: { ...archive, offset: Number.MAX_SAFE_INTEGER }, size: 5 },
    ]) {
      expect(() => locateFileBytes(file(patch), null)).toThrow(ExhibitError);
    }
  });
});
