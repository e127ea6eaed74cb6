import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pdqFromImage } from '@exhibit/media';
import { digests } from './digests.js';
import { writeNsrlRdsV3 } from './nsrl-rds.writer.js';

/**
 * The sample hash sets (samples/hash-sets/), made from the sample case's own
 * files so that importing them shows what a match does (docs/known-files.md):
 * an md5sum list that marks one photo known-bad, a Project VIC (VICS 2.0) JSON
 * that grades another (present twice in the extraction), and an NSRL-style
 * RDS v3 database that lists a text file as known-good, and a PDQ list (the
 * reference tool's `<hash>,<quality>,<path>` lines) with the loose photo's
 * perceptual hash, which also matches its resized, recompressed copy. Every
 * set also lists hashes of no sample file (decoys), as real sets do.
 */
export const SAMPLE_HASH_SETS = {
  knownBad: {
    file: 'demo-known-bad.md5',
    /** Imported with --kind known-bad. */
    path: 'phone-extraction.zip!/WhatsApp/Media/WhatsApp Images/IMG-20250603-WA0001.jpg',
  },
  vics: {
    file: 'demo-vics.json',
    /** Imported with --kind known-bad --category "1=Category A"; the extraction holds it twice. */
    path: 'phone-extraction.zip!/DCIM/Camera/IMG_0002.JPG',
    category: 1,
  },
  nsrl: {
    file: 'demo-nsrl-rds.db',
    /** Imported with --kind known-good: hidden from search by default. */
    path: 'phone-extraction.zip!/Documents/shopping-list.txt',
  },
  pdq: {
    file: 'demo-pdq.txt',
    /** Imported with --kind notable: matches this photo (distance 0) and its near-duplicate by distance. */
    path: 'IMG_LOOSE_0001.jpg',
    nearDuplicate: 'IMG-20250610-WA0003.jpg',
  },
} as const;

const decoy = (set: string, i: number) => digests(Buffer.from(`exhibit sample hash set ${set}: decoy ${i}\n`));
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** Writes the sets into `<outDir>/hash-sets/` from `files` (the case's files by their display path). */
export async function writeSampleHashSets(outDir: string, files: ReadonlyMap<string, Buffer>): Promise<string[]> {
  const bytesOf = (p: string) => {
    const b = files.get(p);
    if (!b) throw new Error(`the sample case has no ${p}`);
    return b;
  };
  const dir = path.join(outDir, 'hash-sets');
  await mkdir(dir, { recursive: true });

  const bad = digests(bytesOf(SAMPLE_HASH_SETS.knownBad.path));
  const md5Lines = [
    `${decoy('md5', 1).md5}  scan_0412.jpg`,
    `${bad.md5}  ${baseName(SAMPLE_HASH_SETS.knownBad.path)}`,
    `${decoy('md5', 2).md5}  holiday/beach 03.png`,
  ];
  await writeFile(path.join(dir, SAMPLE_HASH_SETS.knownBad.file), md5Lines.join('\n') + '\n');

  const graded = digests(bytesOf(SAMPLE_HASH_SETS.vics.path));
  const entry = (id: number, d: { md5: string; sha1: string; size: number }, category: number, series: string | null) => ({
    MediaID: id,
    Category: category,
    MD5: d.md5.toUpperCase(),
    SHA1: d.sha1.toUpperCase(),
    MediaSize: d.size,
    Series: series,
    VictimIdentified: false,
    OffenderIdentified: false,
    IsDistributed: true,
    Tags: series ? 'sample' : null,
  });
  const vics = {
    '@odata.context': 'http://github.com/VICSDATAMODEL/ProjectVic.svc/v2.0/$metadata#Media',
    value: [entry(1001, decoy('vics', 1), 0, null), entry(1002, graded, SAMPLE_HASH_SETS.vics.category, 'DEMO-SERIES-1'), entry(1003, decoy('vics', 2), 2, 'DEMO-SERIES-2')],
  };
  await writeFile(path.join(dir, SAMPLE_HASH_SETS.vics.file), JSON.stringify(vics, null, 2) + '\n');

  const good = digests(bytesOf(SAMPLE_HASH_SETS.nsrl.path));
  const db = path.join(dir, SAMPLE_HASH_SETS.nsrl.file);
  await rm(db, { force: true });
  writeNsrlRdsV3(db, { version: '2026.12.1-demo', buildSet: 'modern', releaseDate: '2026-12-01', description: 'Exhibit sample: NSRL RDS v3 layout, not an NSRL release' }, [
    { ...decoy('nsrl', 1), fileName: 'kernel32.dll', packageId: 1 },
    { ...good, fileName: baseName(SAMPLE_HASH_SETS.nsrl.path), packageId: 2 },
    { ...decoy('nsrl', 2), fileName: 'notepad.exe', packageId: 1 },
  ]);

  // The PDQ hash as `exhibit pdq` prints it (Meta's reference decoding); decoys are random 256-bit values,
  // about 128 bits from any picture.
  const listed = await pdqFromImage(bytesOf(SAMPLE_HASH_SETS.pdq.path));
  const pdqLines = [
    `${decoy('pdq', 1).sha256},100,seized/scan_0413.jpg`,
    `${listed.hash},${listed.quality},${baseName(SAMPLE_HASH_SETS.pdq.path)}`,
    `${decoy('pdq', 2).sha256},92,seized/frame 0007.png`,
  ];
  await writeFile(path.join(dir, SAMPLE_HASH_SETS.pdq.file), pdqLines.join('\n') + '\n');
  return [SAMPLE_HASH_SETS.knownBad.file, SAMPLE_HASH_SETS.vics.file, SAMPLE_HASH_SETS.nsrl.file, SAMPLE_HASH_SETS.pdq.file];
}
