import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ExhibitError } from '@exhibit/core';
import { parseSegmentName } from '@exhibit/pipeline';

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

/** Files of one set share the folder, the name before the extension and the kind of extension. */
const setKey = (file: string) => {
  const s = parseSegmentName(path.resolve(file));
  return s ? { key: `${s.kind}:${s.stem}:${s.extension.length}`, segment: s } : null;
};

/**
 * Orders the files for upload. A first segment given without its siblings
 * brings the siblings found beside it (same name, next numbers); a set given
 * with a gap (E01, E03) or without its first segment is refused before any
 * byte is sent.
 */
export async function planImageSegments(files: string[]): Promise<UploadOrder> {
  const given = new Set(files.map((f) => path.resolve(f)));
  const added: string[] = [];
  const all = [...files];
  for (const file of files) {
    const own = setKey(file);
    if (!own || own.segment.number !== 1) continue;
    const siblingsGiven = files.some((f) => f !== file && setKey(f)?.key === own.key);
    if (siblingsGiven) continue;
    const folder = path.dirname(file);
    for (const name of (await readdir(folder)).sort()) {
      const full = path.join(folder, name);
      const sibling = setKey(full);
      if (!sibling || sibling.key !== own.key || sibling.segment.number === 1) continue;
      if (!given.has(path.resolve(full))) {
        all.push(full);
        added.push(full);
      }
    }
  }
  const sets = new Map<string, Array<{ file: string; number: number }>>();
  for (const file of all) {
    const s = setKey(file);
    if (!s) continue;
    sets.set(s.key, [...(sets.get(s.key) ?? []), { file, number: s.segment.number }]);
  }
  const segmentCounts = new Map<string, number>();
  const laterSegments = new Map<string, string[]>();
  const later = new Set<string>();
  for (const members of sets.values()) {
    if (members.length < 2) continue;
    members.sort((a, b) => a.number - b.number);
    members.forEach((m, i) => {
      if (m.number !== i + 1) {
        const named = members[0]!.number === 1 ? path.basename(members[0]!.file) : `the set of ${path.basename(m.file)}`;
        throw new ExhibitError('invalid-argument', `segment ${i + 1} of ${named} is not among the files given: a split image is uploaded whole, every segment`);
      }
    });
    segmentCounts.set(members[0]!.file, members.length);
    laterSegments.set(members[0]!.file, members.slice(1).map((m) => m.file));
    for (const m of members.slice(1)) later.add(m.file);
  }
  // Later segments first (in the order given), then everything else: a first segment arrives after its set.
  const ordered = [...all.filter((f) => later.has(f)), ...all.filter((f) => !later.has(f))];
  return { files: ordered, segmentCounts, laterSegments, added };
}
