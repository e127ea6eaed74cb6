/**
 * The validator against the real reference tools (exiftool, ffprobe), when
 * installed: (1) the corpus manifest is what exiftool and ffprobe read from
 * the crafted files, so the expected values are not just our own opinion;
 * (2) `runValidation` over the corpus finds misses only on the cases listed as
 * known failures; (3) on the bundled sample case it reports 100 % agreement on
 * make, model, capture time and GPS, and on pixel size once h5-values lands.
 * Skipped, with the reason printed, when exiftool is not installed
 * (Debian: libimage-exiftool-perl).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exiftoolValues, ffprobeValues, show, verdictOf, type Field, type FieldValues } from '../validate/fields.compare.js';
import { exiftoolRecords, ffprobeJson, findTool, type ReferenceTool } from '../validate/reference.tools.js';
import { unpackSampleCase } from '../validate/sample-case.unpack.js';
import { runValidation, type ValidationReport } from '../validate/validation.runner.js';
import { CORPUS, KNOWN_FAILURES } from './corpus.cases.js';

const exiftoolFound = await findTool('exiftool');
const ffprobeFound = await findTool('ffprobe');
const exiftool: ReferenceTool | null = 'missing' in exiftoolFound ? null : exiftoolFound;
const ffprobe: ReferenceTool | null = 'missing' in ffprobeFound ? null : ffprobeFound;
const skipReason = !exiftool
  ? `exiftool: ${(exiftoolFound as { missing: string }).missing} (apt-get install libimage-exiftool-perl)`
  : !ffprobe
    ? `ffprobe: ${(ffprobeFound as { missing: string }).missing}`
    : null;
if (skipReason) console.warn(`skipping the validator's tests against the reference tools: ${skipReason}`);

describe.skipIf(skipReason !== null)('the validator against exiftool and ffprobe', () => {
  let corpusDir = '';
  let sampleDir = '';

  beforeAll(async () => {
    corpusDir = await mkdtemp(path.join(tmpdir(), 'exhibit-corpus-ref-'));
    for (const c of CORPUS) await writeFile(path.join(corpusDir, c.name), await c.build());
    sampleDir = await mkdtemp(path.join(tmpdir(), 'exhibit-sample-case-'));
    await unpackSampleCase(sampleDir);
  }, 120_000);

  afterAll(async () => {
    if (corpusDir) await rm(corpusDir, { recursive: true, force: true });
    if (sampleDir) await rm(sampleDir, { recursive: true, force: true });
  });

  it('exiftool and ffprobe read from every corpus file what its manifest expects', async () => {
    const files = CORPUS.map((c) => path.join(corpusDir, c.name));
    const records = await exiftoolRecords(exiftool!, files);
    const misses: string[] = [];
    for (const c of CORPUS) {
      const file = path.join(corpusDir, c.name);
      const record = records.get(file);
      if (!record) {
        misses.push(`${c.name}: exiftool printed nothing`);
        continue;
      }
      const reference: FieldValues = { ...exiftoolValues(record).values };
      if (c.fields.includes('durationSec')) {
        const probed = await ffprobeJson(ffprobe!, file);
        if ('error' in probed) throw new Error(`${c.name}: ffprobe: ${probed.error}`);
        Object.assign(reference, ffprobeValues(probed).values);
      }
      for (const field of c.fields) {
        const verdict = verdictOf(field, reference, c.expected, true);
        if (verdict !== 'agree' && verdict !== 'both-absent') {
          misses.push(`${c.name} ${field} [${verdict}]: reference ${show(field, reference[field])}, manifest ${show(field, c.expected[field])}`);
        }
      }
    }
    expect(misses).toEqual([]);
  });

  describe('runValidation over the corpus', () => {
    let report: ValidationReport;
    beforeAll(async () => {
      report = await runValidation({ root: corpusDir });
    }, 120_000);

    it('reads every file with both tools and compares every field', () => {
      expect(report.files.map((f) => f.file).sort()).toEqual(CORPUS.map((c) => c.name).sort());
      expect(report.tools.exiftool).toBe(exiftool!.version);
      expect(report.notes).toEqual([]);
      for (const field of report.fields) expect(report.tally[field]!['not-compared'], field).toBe(0);
    });

    it('finds misses only on the cases known to fail today, and every miss is listed', () => {
      const missed = new Set(report.disagreements.map((d) => d.file));
      expect([...missed].filter((f) => !(f in KNOWN_FAILURES))).toEqual([]);
      const counted = report.fields.reduce((n, f) => n + report.tally[f]!.disagree + report.tally[f]!['only-exhibit'] + report.tally[f]!['only-reference'], 0);
      expect(report.disagreements).toHaveLength(counted);
    });
  });

  describe('runValidation over the sample case (samples/extraction, archive members included)', () => {
    let report: ValidationReport;
    beforeAll(async () => {
      report = await runValidation({ root: sampleDir });
    }, 120_000);

    const pct = (field: Field) => report.tally[field]!.agreementPct;
    const missesOf = (field: Field) => report.disagreements.filter((d) => d.field === field).map((d) => `${d.file}: ${d.verdict} exhibit ${d.exhibit} reference ${d.reference}`);

    it('reads the members of the nested archives too', () => {
      expect(report.files.some((f) => f.file.endsWith('archive-2018.zip.d/DCIM/100NIKON/DSC_0001.JPG'))).toBe(true);
    });

    for (const field of ['make', 'model', 'takenAt', 'gps'] as const) {
      it(`agrees 100 % on ${field}`, () => {
        expect(missesOf(field)).toEqual([]);
        expect(pct(field)).toBe(100);
      });
    }

    // Four sample JPEGs carry no EXIF ExifImageWidth/Height: the size comes from their frame header.
    it('agrees 100 % on pixel size', () => {
      expect(missesOf('pixelSize')).toEqual([]);
      expect(pct('pixelSize')).toBe(100);
    });
  });
});
