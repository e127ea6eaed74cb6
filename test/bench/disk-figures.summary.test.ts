import { describe, expect, it } from 'vitest';
import { checkImageFiles, diskFloorWork, floorRatioLine, medianWallPairIndex, readPerImageByte, sidesRatioLine, wallRatio, wallRatioLine } from './disk-figures.summary.js';

describe('wall-time ratio', () => {
  it('is Exhibit ÷ baseline, median over pairs, with the goal verdict', () => {
    expect(wallRatio({ baselineMs: 100_000, exhibitMs: 150_000 })).toBe(1.5);
    const pairs = [
      { baselineMs: 100_000, exhibitMs: 300_000 },
      { baselineMs: 100_000, exhibitMs: 120_000 },
      { baselineMs: 50_000, exhibitMs: 70_000 },
    ];
    expect(wallRatioLine(pairs)).toBe('Exhibit wall time ÷ shell baseline wall time (median of 3 pairs): 1.40 (goal ≤ 1.5: met)');
    expect(medianWallPairIndex(pairs)).toBe(2);
    expect(wallRatioLine([{ baselineMs: 10, exhibitMs: 20 }])).toMatch(/: 2\.00 \(goal ≤ 1\.5: missed\)$/);
  });

  it('refuses a run that took no time', () => {
    expect(() => wallRatio({ baselineMs: 0, exhibitMs: 1 })).toThrow(/positive/);
  });
});

describe('how much of the gap is the work itself', () => {
  const exhibit = { name: 'Exhibit', sides: [{ wallMs: 300_000, cpuSec: 500 }, { wallMs: 200_000, cpuSec: 400 }, { wallMs: 250_000, cpuSec: 450 }] };
  const baseline = { name: 'issue baseline', sides: [{ wallMs: 10_000, cpuSec: 10 }, { wallMs: 10_000, cpuSec: 8 }, { wallMs: 20_000, cpuSec: 9 }] };

  it("gives the medians of the pairs' wall and CPU ratios, then each side's median wall and CPU", () => {
    // Wall ratios 30, 20, 12.5 → 20; CPU ratios 50, 50, 50 → 50.
    expect(sidesRatioLine('Exhibit ÷ issue baseline', exhibit, baseline)).toBe(
      'Exhibit ÷ issue baseline (median of 3 pairs): wall 20.00, CPU 50.00 (Exhibit 250.0 s wall, 450 s CPU; issue baseline 10.0 s wall, 9 s CPU)',
    );
  });

  it('says n/a for CPU when a pair did not measure it, and refuses sides of different lengths', () => {
    const sameWork = { name: 'same-work reference', sides: [{ wallMs: 100_000, cpuSec: null }] };
    expect(sidesRatioLine('Exhibit ÷ same-work reference', { name: 'Exhibit', sides: [exhibit.sides[0]!] }, sameWork)).toBe(
      'Exhibit ÷ same-work reference (median of 1 pairs): wall 3.00, CPU n/a (Exhibit 300.0 s wall, 500 s CPU; same-work reference 100.0 s wall, n/a CPU)',
    );
    expect(() => sidesRatioLine('x', exhibit, { ...sameWork })).toThrow(/one figure per pair/);
  });

  it("spreads the floor's CPU over the cores and says whether it leaves the goal within reach", () => {
    // 60 s of CPU on 2 cores: 30 s, against baselines of 10, 10 and 20 s → ratios 3, 3, 1.5 → 3.
    expect(floorRatioLine({ cpuMs: 60_000, cores: 2 }, baseline.sides)).toBe(
      'work floor ÷ issue baseline (least any implementation could reach here) (median of 3 pairs): wall 3.00, CPU 6.67 ' +
        '(work floor (2 cores) 30.0 s wall, 60 s CPU; issue baseline 10.0 s wall, 9 s CPU): goal ≤ 1.5 out of reach on this machine',
    );
    expect(floorRatioLine({ cpuMs: 20_000, cores: 2 }, [{ wallMs: 10_000, cpuSec: 10 }])).toMatch(/wall 1\.00, CPU 2\.00 .*: goal ≤ 1\.5 not ruled out by the floor$/);
  });

  it('hashes the evidence once and every file in it, and thumbnails the photos', () => {
    const files = [
      { bytes: 100, kind: 'photo' },
      { bytes: 20, kind: 'document' },
      { bytes: 300, kind: 'photo' },
    ];
    expect(diskFloorWork(1000, files)).toEqual({ hashedBytes: 1420, photos: 2 });
  });
});

describe('readPerImageByte', () => {
  it('divides bytes read by image bytes', () => {
    expect(readPerImageByte(1.2e9, 1e9)).toBeCloseTo(1.2, 9);
    expect(() => readPerImageByte(1, 0)).toThrow(/positive/);
  });
});

describe('checkImageFiles', () => {
  const written = [
    { path: 'DCIM/100CANON/IMG_00001.JPG', sha256: 'a' },
    { path: 'Documents/00/note-00001.txt', sha256: 'b' },
  ];
  const file = (p: string, sha256: string, entryKind = 'file') => ({ file: { path: p, sha256, entryKind } });
  const done = { complete: true, files: { byStage: { indexed: 3, failed: 0 } } };

  it('passes when every written file is under the image with its hash', () => {
    const items = [file('disk.img', 'img'), file('disk.img!/DCIM', '', 'directory'), file('disk.img!/DCIM/100CANON/IMG_00001.JPG', 'a'), file('disk.img!/Documents/00/note-00001.txt', 'b')];
    expect(checkImageFiles('disk.img', written, done, items)).toEqual({ complete: true, failed: 0, filesInIndex: 2, missing: [], sha256Mismatches: [], failures: [], correct: true });
  });

  it('names missing files and wrong hashes, and fails on failures or incompleteness', () => {
    const items = [file('disk.img!/DCIM/100CANON/IMG_00001.JPG', 'x')];
    const c = checkImageFiles('disk.img', written, done, items);
    expect(c.missing).toEqual(['Documents/00/note-00001.txt']);
    expect(c.sha256Mismatches).toEqual(['DCIM/100CANON/IMG_00001.JPG']);
    expect(c.correct).toBe(false);
    const all = [file('disk.img!/DCIM/100CANON/IMG_00001.JPG', 'a'), file('disk.img!/Documents/00/note-00001.txt', 'b')];
    expect(checkImageFiles('disk.img', written, { complete: true, files: { byStage: { failed: 1 } } }, all).correct).toBe(false);
    expect(checkImageFiles('disk.img', written, { complete: false, files: { byStage: {} } }, all).correct).toBe(false);
  });

  // The 4 GiB run of 2026-12-07 ended with 1 failed file and no way to say which or why.
  it('failed-file-reason-lost-with-the-data-folder', () => {
    const failedItem = { ...file('disk.img!/DCIM/100CANON/IMG_00001.JPG', 'a'), failure: { stage: 'analyse', code: 'parser-deadline', detail: 'metadata parser passed 30000 ms' } };
    const c = checkImageFiles('disk.img', written, { complete: true, files: { byStage: { failed: 1 } } }, [failedItem, file('disk.img!/Documents/00/note-00001.txt', 'b')]);
    expect(c.failures).toEqual([{ path: 'disk.img!/DCIM/100CANON/IMG_00001.JPG', stage: 'analyse', code: 'parser-deadline', detail: 'metadata parser passed 30000 ms' }]);
    expect(c.correct).toBe(false);
  });
});
