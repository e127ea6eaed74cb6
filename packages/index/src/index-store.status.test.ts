import { describe, expect, it } from 'vitest';
import { countByStage, flagDetail, stageCounts, type FileStateGroup } from './index-store.status.js';

const g = (over: Partial<FileStateGroup>): FileStateGroup => ({ hasContent: true, stage: 'pending', failureStage: null, unpack: 'n/a', n: 1, ...over });

describe('stageCounts', () => {
  it('puts every file in exactly one bucket per stage', () => {
    const groups = [
      g({ stage: 'pending', n: 2 }),
      g({ stage: 'identified', unpack: 'pending' }),
      g({ stage: 'described' }),
      g({ stage: 'indexed', unpack: 'done', n: 3 }),
      g({ stage: 'failed', failureStage: 'metadata', n: 2 }),
      g({ hasContent: false, stage: 'pending' }),
    ];
    const stages = stageCounts(groups, [
      { integrity: 'verified', hashFailed: false, rootFailureStage: null },
      { integrity: 'pending', hashFailed: true, rootFailureStage: 'hash' },
      { integrity: 'pending', hashFailed: false, rootFailureStage: null },
    ]);
    expect(stages.hash).toEqual({ done: 1, failed: 1, pending: 1 });
    expect(stages.identify).toEqual({ done: 8, failed: 0, pending: 2 });
    expect(stages.metadata).toEqual({ done: 5, failed: 2, pending: 3 });
    expect(stages.thumbnail).toEqual({ done: 4, failed: 2, pending: 4 });
    expect(stages.index).toEqual({ done: 4, failed: 2, pending: 4 });
    expect(stages.unpack).toEqual({ done: 3, failed: 0, pending: 1 });
    const total = countByStage(groups).total;
    for (const s of ['identify', 'metadata', 'thumbnail', 'index'] as const) {
      expect(stages[s].done + stages[s].failed + stages[s].pending).toBe(total);
    }
  });

  it('counts a file that went on past a failed metadata read as failed for metadata only', () => {
    const stages = stageCounts([g({ stage: 'indexed', metadataFailed: true, n: 2 }), g({ stage: 'identified', metadataFailed: false })], []);
    expect(stages.metadata).toEqual({ done: 0, failed: 2, pending: 1 });
    expect(stages.thumbnail).toEqual({ done: 2, failed: 0, pending: 1 });
    expect(stages.index).toEqual({ done: 2, failed: 0, pending: 1 });
  });

  it('counts a failure without a recorded stage as failing everything', () => {
    const stages = stageCounts([g({ stage: 'failed', failureStage: null })], []);
    expect(stages.identify).toEqual({ done: 0, failed: 1, pending: 0 });
  });
});

describe('flagDetail', () => {
  it('explains an extension mismatch with both sides', () => {
    expect(flagDetail('ext-mismatch', { extension: 'pdf', detectedExt: 'png', mime: 'image/png' })).toBe('named with .pdf, but the content is .png (image/png)');
    expect(flagDetail('ext-mismatch', { extension: null, detectedExt: 'zip', mime: null })).toBe('named with no extension, but the content is .zip');
    expect(flagDetail('encrypted', { extension: null, detectedExt: null, mime: null })).toMatch(/encrypted/);
  });

  it('ext-mismatch-detail-names-version-number-as-extension', () => {
    // 'holiday.jpg.1' is judged as a .jpg (a trailing number is a version or segment); the detail named '.1'.
    expect(flagDetail('ext-mismatch', { extension: '1', fileName: 'DCIM/holiday.jpg.1', detectedExt: 'elf', mime: 'application/x-elf' })).toBe('named with .jpg, but the content is .elf (application/x-elf)');
    expect(flagDetail('ext-mismatch', { extension: '001', fileName: 'backup.zip!/photo.jpg.001', detectedExt: 'zip', mime: null })).toBe('named with .jpg, but the content is .zip');
    // A number that is the name's only extension is the one judged.
    expect(flagDetail('ext-mismatch', { extension: '001', fileName: 'secret.001', detectedExt: 'jpg', mime: 'image/jpeg' })).toBe('named with .001, but the content is .jpg (image/jpeg)');
    // A camera-like stem and number ('DSC01.1') is a version only in a program; a photo's detail names the number.
    expect(flagDetail('ext-mismatch', { extension: '1', fileName: 'DCIM/DSC01.1', detectedExt: 'jpg', mime: 'image/jpeg' })).toBe('named with .1, but the content is .jpg (image/jpeg)');
  });
});
