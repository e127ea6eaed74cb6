import { describe, expect, it } from 'vitest';
import { compositorFrames } from './gallery-scroll.meter.js';

const report = (pid: number, state: string, extra: Record<string, unknown> = {}) => ({ name: 'PipelineReporter', ph: 'b', pid, args: { frame_reporter: { state, ...extra } } });

describe('compositorFrames', () => {
  it("counts the page renderer's frames (the process that ran animation frames), not the browser UI's", () => {
    const trace = {
      traceEvents: [
        { name: 'AnimationFrame', ph: 'b', pid: 2 },
        report(1, 'STATE_DROPPED', { affects_smoothness: true }),
        report(2, 'STATE_PRESENTED_ALL'),
        report(2, 'STATE_PRESENTED_ALL'),
        report(2, 'STATE_DROPPED', { affects_smoothness: true }),
        // Dropped but not counted against smoothness (nothing was meant to change on screen).
        report(2, 'STATE_DROPPED', { affects_smoothness: false }),
        // The main thread's part of a frame the compositor reports too: partial, not a frame of its own.
        report(2, 'STATE_PRESENTED_PARTIAL', { frame_type: 'FORKED' }),
        report(2, 'STATE_NO_UPDATE_DESIRED'),
        // An end event of the same report.
        { ...report(2, 'STATE_DROPPED', { affects_smoothness: true }), ph: 'e' },
      ],
    };
    expect(compositorFrames(trace)).toEqual({ frames: 4, dropped: 1, partial: 1 });
  });

  it('reads a trace given as a bare array, and one without a page renderer as no frames', () => {
    expect(compositorFrames([report(1, 'STATE_PRESENTED_ALL')])).toEqual({ frames: 0, dropped: 0, partial: 0 });
  });
});
