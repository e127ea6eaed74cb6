import { describe, expect, it } from 'vitest';
import { pdqDetail } from './known-file-detail.js';

describe('pdqDetail', () => {
  const listed = 'ab'.repeat(32);
  const match = { distance: 9, maxDistance: 31, frame: 0, timeMs: null, video: false, listedHash: listed, label: null };

  it('regression: video-frame-without-time-called-the-picture — a video frame ffmpeg gave no time is a video frame, time unknown', () => {
    // Since 1cec910 a frame's time is the hashed frame's pts, absent when ffmpeg reported none: frame 0 of
    // such a video read "on the picture" in status and custody.
    expect(pdqDetail({ ...match, video: true })).toBe(`distance 9 of 256 bits (set limit 31) on video frame 0, time unknown, listed hash ${listed}`);
    expect(pdqDetail({ ...match, video: true, frame: 3 })).toContain('on video frame 3, time unknown,');
    expect(pdqDetail({ ...match, video: true, frame: 2, timeMs: 7500 })).toContain('on video frame 2 at 7.500 s,');
    expect(pdqDetail(match)).toContain('on the picture,');
  });
});
