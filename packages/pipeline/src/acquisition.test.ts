import { describe, expect, it } from 'vitest';
import { acquisitionFromMetadata } from './acquisition.js';

describe('acquisitionFromMetadata', () => {
  it('decodes percent-encoded text, lowercases hashes and ignores key case', () => {
    expect(
      acquisitionFromMetadata({ Examiner: 'J%C3%B6rg%20M', ACQUISITION_SHA256: ' ABCDEF ', exhibit_ref: 'EX-01' }),
    ).toEqual({ examiner: 'Jörg M', exhibitRef: 'EX-01', sha256: 'abcdef' });
  });

  it('keeps malformed encodings as written rather than dropping them', () => {
    expect(acquisitionFromMetadata({ description: '100%' })).toEqual({ description: '100%' });
  });

  it('drops empty hashes so they are not compared', () => {
    expect(acquisitionFromMetadata({ acquisition_md5: '  ' })).toEqual({});
  });
});
