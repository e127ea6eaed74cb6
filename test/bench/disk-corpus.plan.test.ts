import { describe, expect, it } from 'vitest';
import { CONTENT_SHARE, diskCorpusPath, PADDING_FILE_MAX_BYTES, planDiskCorpus } from './disk-corpus.plan.js';

const GiB = 1024 ** 3;

describe('planDiskCorpus', () => {
  it('plans the issue 15 image: 4 GiB, 20,000 files, mostly photos, padding in files of at most 256 MiB', () => {
    const plan = planDiskCorpus({ imageBytes: 4 * GiB, files: 20_000 });
    expect(plan.photos).toBe(18_000);
    expect(plan.photos + plan.documents + plan.paddingFiles).toBe(20_000);
    expect(plan.paddingFiles).toBe(3);
    expect(plan.contentBudgetBytes).toBe(Math.floor(4 * GiB * CONTENT_SHARE));
    // Photos take the bulk of the content: about 180 KB each.
    expect(plan.photos * plan.photoTargetBytes).toBeGreaterThan(0.8 * plan.contentBudgetBytes);
    expect(plan.photoTargetBytes).toBeGreaterThan(170_000);
    expect(plan.photoTargetBytes).toBeLessThan(190_000);
    expect(plan.photoMegapixels).toBeCloseTo(plan.photoTargetBytes / 0.33 / 1e6, 6);
  });

  it('keeps the bytes per photo when image and file count scale together, and the padding files bounded', () => {
    const small = planDiskCorpus({ imageBytes: 1 * GiB, files: 5_000 });
    const large = planDiskCorpus({ imageBytes: 8 * GiB, files: 40_000 });
    expect(Math.abs(small.photoTargetBytes - large.photoTargetBytes)).toBeLessThan(100);
    expect(((large.contentBudgetBytes * 0.15) / large.paddingFiles) <= PADDING_FILE_MAX_BYTES).toBe(true);
  });

  it('caps the photo size for few files and refuses plans that cannot hold the files', () => {
    expect(planDiskCorpus({ imageBytes: 1 * GiB, files: 20 }).photoMegapixels).toBe(24);
    expect(() => planDiskCorpus({ imageBytes: 8 * GiB, files: 5 })).toThrow(/at least 10 files/);
    expect(() => planDiskCorpus({ imageBytes: 1024 * 1024, files: 100 })).toThrow(/at least 16 MiB/);
    expect(() => planDiskCorpus({ imageBytes: 64 * GiB, files: 10 })).toThrow(/too few/);
  });
});

describe('diskCorpusPath', () => {
  it('puts 1,000 files a folder, camera style for photos', () => {
    expect(diskCorpusPath('photo', 0)).toBe('DCIM/100CANON/IMG_00001.JPG');
    expect(diskCorpusPath('photo', 1000)).toBe('DCIM/101CANON/IMG_01001.JPG');
    expect(diskCorpusPath('document', 1)).toBe('Documents/00/note-00002.csv');
    expect(diskCorpusPath('padding', 2)).toBe('Backups/backup-00003.bin');
  });
});
