import { describe, expect, it } from 'vitest';
import { takeNextThumbnail } from './thumbnail-queue';

const job = (name: string, onScreen: boolean) => ({ name, onScreen: () => onScreen });

describe('takeNextThumbnail', () => {
  it('first-screen-waited-behind-overscan-rows: a cell on screen goes before newer cells below the screen', () => {
    // Rendered top to bottom: the screen's rows, then the overscan rows, which were asked for last.
    const waiting = [job('screen-1', true), job('screen-2', true), job('below-1', false), job('below-2', false)];
    expect(takeNextThumbnail(waiting)?.name).toBe('screen-2');
    expect(takeNextThumbnail(waiting)?.name).toBe('screen-1');
    expect(takeNextThumbnail(waiting)?.name).toBe('below-2');
    expect(waiting.map((j) => j.name)).toEqual(['below-1']);
  });

  it('takes the newest when no cell is on screen, and nothing from an empty queue', () => {
    const waiting = [job('a', false), job('b', false)];
    expect(takeNextThumbnail(waiting)?.name).toBe('b');
    expect(takeNextThumbnail(waiting)?.name).toBe('a');
    expect(takeNextThumbnail(waiting)).toBeUndefined();
  });

  it('asks each cell whether it is on screen when it is its turn, not when it was queued', () => {
    let scrolledTo = false;
    const waiting = [{ name: 'later on screen', onScreen: () => scrolledTo }, job('newest', false)];
    scrolledTo = true;
    expect(takeNextThumbnail(waiting)?.name).toBe('later on screen');
  });
});
