import { describe, expect, it } from 'vitest';
import { analyseStepAt } from './dead-letter.js';

describe('analyseStepAt: the step a dead-lettered analyse message fails a file in', () => {
  it('names the step the state waits on for images and videos, as each step had its queue', () => {
    expect(analyseStepAt('pending', 'image')).toBe('identify');
    expect(analyseStepAt('identified', 'image')).toBe('metadata');
    expect(analyseStepAt('described', 'video')).toBe('thumbnail');
    // Past the thumbnail only its re-check was left.
    expect(analyseStepAt('thumbnailed', 'image')).toBe('thumbnail');
    expect(analyseStepAt('indexed', 'video')).toBe('thumbnail');
  });

  it('names metadata as audio\'s last analyse step (it has no thumbnail)', () => {
    expect(analyseStepAt('pending', 'audio')).toBe('identify');
    expect(analyseStepAt('identified', 'audio')).toBe('metadata');
    expect(analyseStepAt('described', 'audio')).toBe('metadata');
    expect(analyseStepAt('indexed', 'audio')).toBe('metadata');
  });

  it('names identify for anything else, or a file whose kind is not known yet', () => {
    expect(analyseStepAt('pending', null)).toBe('identify');
    expect(analyseStepAt('identified', 'document')).toBe('identify');
    expect(analyseStepAt('identified', 'archive')).toBe('identify');
  });
});
