import { describe, expect, it } from 'vitest';
import { MAX_BLOCKS_PER_BLOB } from './block-id.js';
import { planUpload, UPLOAD_LIMITS } from './upload.service.js';

const ids = { caseId: 'C1', evidenceId: 'E1' };
const MIB = 1024 * 1024;

describe('planUpload', () => {
  it('names the blob <case>/<evidence>/<base name> and cuts the file into blocks', () => {
    expect(planUpload('/media/usb/phone.zip', 20 * MIB + 1, ids)).toEqual({
      fileName: 'phone.zip',
      blobName: 'C1/E1/phone.zip',
      size: 20 * MIB + 1,
      blockSizeBytes: UPLOAD_LIMITS.defaultBlockBytes,
      blocks: 3,
    });
    expect(planUpload('empty', 0, ids).blocks).toBe(0);
  });

  it('raises the default block size for files that would need too many blocks', () => {
    const size = 1024 ** 4; // 1 TiB
    const plan = planUpload('disk.img', size, ids);
    expect(plan.blocks).toBeLessThanOrEqual(MAX_BLOCKS_PER_BLOB);
    expect(plan.blockSizeBytes % MIB).toBe(0);
    expect(planUpload('disk.img', size, ids)).toEqual(plan);
  });

  it('refuses an explicit block size that is too small for the file, or out of bounds', () => {
    expect(() => planUpload('disk.img', 1024 ** 4, { ...ids, blockSizeBytes: 8 * MIB })).toThrow(/needs blocks of at least/);
    expect(() => planUpload('x', 10, { ...ids, blockSizeBytes: 1000 })).toThrow(/block size/);
  });

  it('validates the ids', () => {
    expect(() => planUpload('x', 1, { caseId: '../etc', evidenceId: 'E1' })).toThrow(/invalid case id/);
  });
});
