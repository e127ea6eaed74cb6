import { describe, expect, it } from 'vitest';
import { renderSimilar } from './similar.command.js';

describe('exhibit similar: output', () => {
  const body = {
    fileId: 'f1',
    hash: 'ab'.repeat(32),
    quality: 92,
    maxDistance: 31,
    scope: 'assigned' as const,
    caseIds: ['C1', 'C2'],
    method: 'scan' as const,
    items: [
      { sha256: 'a'.repeat(64), frame: 0, quality: 92, distance: 0, files: [{ fileId: 'f1', caseId: 'C1', evidenceId: 'E1', path: 'a.jpg' }] },
      { sha256: 'b'.repeat(64), frame: 0, quality: 88, distance: 12, files: [{ fileId: 'f9', caseId: 'C2', evidenceId: 'E2', path: 'x.zip!/b.jpg' }] },
    ],
  };

  it('lists every occurrence with its distance, nearest first as the API gives them', () => {
    expect(renderSimilar(body).split('\n')).toEqual([`PDQ ${'ab'.repeat(32)} quality 92 — within 31 bits in C1, C2:`, '  0  C1  f1  a.jpg', ' 12  C2  f9  x.zip!/b.jpg', '']);
  });

  it('says when the file has no hash, and when nothing is near', () => {
    expect(renderSimilar({ ...body, hash: null, quality: null, items: [] })).toMatch(/no PDQ hash recorded/);
    expect(renderSimilar({ ...body, items: [] })).toMatch(/\n {2}none\n$/);
  });

  it('names the frames (and times) that are near when a video is searched or found', () => {
    const video = {
      ...body,
      frames: [0, 1, 2].map((frame) => ({ frame, hash: 'cd'.repeat(32), quality: 90, timeMs: 1500 + frame * 3000 })),
      items: [
        { sha256: 'c'.repeat(64), frame: 0, timeMs: 1500, fromFrame: 0, fromTimeMs: 1500, quality: 90, distance: 0, files: [{ fileId: 'f1', caseId: 'C1', evidenceId: 'E1', path: 'clip.mp4' }] },
        { sha256: 'd'.repeat(64), frame: 0, fromFrame: 2, fromTimeMs: 7500, quality: 88, distance: 9, files: [{ fileId: 'f7', caseId: 'C1', evidenceId: 'E1', path: 'still.jpg' }] },
      ],
    };
    expect(renderSimilar(video).split('\n')).toEqual([
      'PDQ of 3 video frame(s) — within 31 bits in C1, C2:',
      '  0  C1  f1  clip.mp4  (frame 0 at 1.5 s ~ its frame 0 at 1.5 s)',
      '  9  C1  f7  still.jpg  (frame 2 at 7.5 s)',
      '',
    ]);
    // A picture searched: a video found shows which of its frames is near.
    expect(renderSimilar({ ...body, items: [{ ...video.items[0]!, fromFrame: 0, fromTimeMs: undefined }] })).toContain('clip.mp4  (its frame 0 at 1.5 s)');
  });

  it('regression: video-frame-without-time-called-the-picture — a video whose frames have no time is still named as a video', () => {
    // ffmpeg reported no pts for the hashed frames (1cec910): timeMs absent; the kind says it is a video.
    const untimed = {
      ...body,
      kind: 'video',
      frames: [{ frame: 0, hash: 'cd'.repeat(32), quality: 90 }],
      items: [
        { sha256: 'c'.repeat(64), frame: 0, video: true, fromFrame: 0, quality: 90, distance: 0, files: [{ fileId: 'f1', caseId: 'C1', evidenceId: 'E1', path: 'clip.mp4' }] },
        { sha256: 'd'.repeat(64), frame: 0, video: false, fromFrame: 0, quality: 88, distance: 9, files: [{ fileId: 'f7', caseId: 'C1', evidenceId: 'E1', path: 'still.jpg' }] },
      ],
    };
    expect(renderSimilar(untimed).split('\n')).toEqual([
      'PDQ of 1 video frame(s) — within 31 bits in C1, C2:',
      '  0  C1  f1  clip.mp4  (frame 0, time unknown ~ its frame 0, time unknown)',
      '  9  C1  f7  still.jpg  (frame 0, time unknown)',
      '',
    ]);
  });
});
