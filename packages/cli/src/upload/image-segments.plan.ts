import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { segmentSets } from '@exhibit/pipeline';

/**
 * A split disk image (card.E01, card.E02 …; disk.001, disk.002 …) is uploaded
 * as one evidence item, one blob per segment (docs/disk-images.md, "Split
 * images"). The pipeline reads the set when the first segment arrives, so the
 * first segment is uploaded last, once every other segment is committed, and
 * carries the number of segments (blob metadata `imagesegments`) so a set
 * that arrives short is a named failure, never a smaller image.
 */

export interface UploadOrder {
  /** The files in the order to upload them: every set's first segment after its others. */
  files: string[];
  /** First segment → number of segments in its set (only sets of two or more). */
  segmentCounts: Map<string, number>;
  /** First segment → its later segments, uploaded before it. */
  laterSegments: Map<string, string[]>;
  /** Segments found beside a first segment given alone, to tell the user. */
  added: string[];
}

/**
 * Orders the files for upload. A first segment given without its siblings
 * brings the siblings found beside it (same name, next numbers); a set given
 * with a gap (E01, E03) or without its first segment is refused before any
 * byte is sent.
 */
export async function planImageSegments(files: string[]): Promise<UploadOrder> {
  const resolved = (f: string) => path.resolve(f);
  const given = new Set(files.map(resolved));
  const added: string[] = [];
  const all = [...files];
  const givenSets = segmentSets(files, resolved);
  for (const [key, set] of givenSets) {
    if (set.length !== 1 || set[0]!.segment.number !== 1) continue;
    const file = set[0]!.item;
    const folder = path.dirname(file);
    const beside = (await readdir(folder)).sort().map((name) => path.join(folder, name));
    const found = segmentSets(beside, resolved).get(key) ?? [];
    for (const { item, segment } of found) {
      if (segment.number !== 1 && !given.has(resolved(item))) {
        all.push(item);
        added.push(item);
      }
    }
  }
  const segmentCounts = new Map<string, number>();
  const laterSegments = new Map<string, string[]>();
  const later = new Set<string>();
  for (const set of segmentSets(all, resolved).values()) {
    if (set.length < 2) continue;
    const members = [...set].sort((a, b) => a.segment.number - b.segment.number);
    members.forEach((m, i) => {
      if (m.segment.number !== i + 1) {
        const named = members[0]!.segment.number === 1 ? path.basename(members[0]!.item) : `the set of ${path.basename(m.item)}`;
        throw new ExhibitError('invalid-argument', `segment ${i + 1} of ${named} is not among the files given: a split image is uploaded whole, every segment`);
      }
    });
    segmentCounts.set(members[0]!.item, members.length);
    laterSegments.set(members[0]!.item, members.slice(1).map((m) => m.item));
    for (const m of members.slice(1)) later.add(m.item);
  }
  // Later segments first (in the order given), then everything else: a first segment arrives after its set.
  const ordered = [...all.filter((f) => later.has(f)), ...all.filter((f) => !later.has(f))];
  return { files: ordered, segmentCounts, laterSegments, added };
}
