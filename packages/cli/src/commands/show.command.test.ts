import { describe, expect, it } from 'vitest';
import { fileDetail } from '../render/fixtures.test-data.js';
import { whyNoThumbnail } from './show.command.js';

describe('show --thumbnail: why there is none', () => {
  const failure = { stage: 'thumbnail' as const, code: 'decode-failed' as const, detail: 'JPEG data is corrupt' };
  const content = fileDetail.content!;

  it('is null when a thumbnail was made', () => {
    expect(whyNoThumbnail(fileDetail)).toBeNull();
  });

  it("gives the file's failure, not a not-found", () => {
    const failed = {
      ...fileDetail,
      file: { ...fileDetail.file, stage: 'failed' as const, failure },
      content: { ...content, thumbnail: null, thumbnailSource: null, thumbnailStatus: 'failed' as const, failure },
    };
    expect(whyNoThumbnail(failed)).toBe('it could not be made (thumbnail: decode-failed: JPEG data is corrupt)');
    // Failed before the thumbnail stage: the file's failure says why.
    const early = { stage: 'identify' as const, code: 'corrupt-file' as const, detail: 'truncated' };
    expect(whyNoThumbnail({ ...failed, file: { ...failed.file, failure: early }, content: null })).toBe('processing failed (identify: corrupt-file: truncated)');
  });

  it('says when none is made for the type, when the entry has no content, and when it is not made yet', () => {
    expect(whyNoThumbnail({ ...fileDetail, content: { ...content, thumbnail: null, thumbnailStatus: 'n/a', mime: 'text/plain' } })).toBe('none is made for text/plain');
    expect(whyNoThumbnail({ ...fileDetail, file: { ...fileDetail.file, entryKind: 'directory' }, content: null })).toBe('it is a directory, which has no content');
    expect(whyNoThumbnail({ ...fileDetail, file: { ...fileDetail.file, stage: 'described' }, content: { ...content, thumbnail: null, thumbnailStatus: 'pending' } })).toBe(
      'not made yet (stage described); run `npm run exhibit -- status C1/EX01` to follow processing',
    );
  });
});
