import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planImageSegments } from './image-segments.plan.js';

describe('planImageSegments: a split image is uploaded whole, its first segment last', () => {
  let dir = '';
  const p = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-segments-'));
    for (const name of ['card.E01', 'card.E02', 'card.E03', 'disk.001', 'disk.002', 'gap.E01', 'gap.E03', 'notes.txt', 'other.E01', 'other.img']) writeFileSync(p(name), name);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('segments given together: the later ones first, the first last with the count', async () => {
    const plan = await planImageSegments([p('card.E01'), p('card.E02'), p('card.E03'), p('notes.txt')]);
    expect(plan.files).toEqual([p('card.E02'), p('card.E03'), p('card.E01'), p('notes.txt')]);
    expect([...plan.segmentCounts]).toEqual([[p('card.E01'), 3]]);
    expect(plan.added).toEqual([]);
  });

  it('a first segment given alone brings the segments beside it; a single-segment image stays one file', async () => {
    // other.img beside other.E01 is another file (.img fits EWF's letter sequence, which starts only after E99).
    const plan = await planImageSegments([p('disk.001'), p('other.E01')]);
    expect(plan.files).toEqual([p('disk.002'), p('disk.001'), p('other.E01')]);
    expect(plan.added).toEqual([p('disk.002')]);
    expect([...plan.segmentCounts]).toEqual([[p('disk.001'), 2]]);
  });

  it('a set with a gap, or without its first segment, is refused before anything is sent', async () => {
    await expect(planImageSegments([p('gap.E01')])).rejects.toThrow(/segment 2 of gap\.E01 is not among the files given/);
    await expect(planImageSegments([p('card.E02'), p('card.E03')])).rejects.toThrow(/segment 1 of the set of card\.E02 is not among the files given/);
  });
});
