import { describe, expect, it } from 'vitest';
import { floorWallMs, workFloorCpuMs } from './work-floor.summary.js';

describe('work floor', () => {
  const costs = { hashCpuMsPerMB: 4, thumbnailCpuMsPerPhoto: 30, photosSampled: 20 };

  it('is hash CPU per MB × bytes hashed plus thumbnail CPU per photo × photos, spread over the cores', () => {
    // 2.5 GB hashed at 4 ms/MB = 10,000 ms; 1,000 photos at 30 ms = 30,000 ms.
    const cpuMs = workFloorCpuMs(costs, { hashedBytes: 2.5e9, photos: 1000 });
    expect(cpuMs).toBe(40_000);
    expect(floorWallMs(cpuMs, 2)).toBe(20_000);
    expect(workFloorCpuMs(costs, { hashedBytes: 0, photos: 0 })).toBe(0);
  });

  it('refuses a count or cost that is not a number ≥ 0, and a machine without cores', () => {
    expect(() => workFloorCpuMs(costs, { hashedBytes: -1, photos: 0 })).toThrow(/hashedBytes/);
    expect(() => workFloorCpuMs({ ...costs, thumbnailCpuMsPerPhoto: Number.NaN }, { hashedBytes: 1, photos: 1 })).toThrow(/thumbnailCpuMsPerPhoto/);
    expect(() => floorWallMs(1, 0)).toThrow(/cores/);
    expect(() => floorWallMs(1, 1.5)).toThrow(/cores/);
  });
});
