/**
 * `npm run validate` as a user runs it: the entry point in a child process
 * (exit codes, --json, --strict, bad usage), and the printed report.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS } from '../corpus/corpus.cases.js';
import { findTool } from './reference.tools.js';
import { formatReport } from './validate.js';
import type { ValidationReport } from './validation.runner.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = path.join(REPO, 'node_modules', '.bin', 'tsx');
const hasExiftool = !('missing' in (await findTool('exiftool')));

function validate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TSX, ['test/validate/validate.ts', ...args], { cwd: REPO, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'exhibit-validate-cli-'));
  const control = CORPUS.find((c) => c.name === 'control-full-exif-gps-south-west.jpg')!;
  await writeFile(path.join(dir, control.name), await control.build());
  await writeFile(path.join(dir, 'notes.txt'), 'not media\n');
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm run validate', () => {
  it('prints the JSON report and exits 0 under --strict when nothing misses', async () => {
    const run = await validate([dir, '--json', '--strict', '--no-ffprobe']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as ValidationReport;
    expect(report.files.map((f) => f.file)).toEqual(['control-full-exif-gps-south-west.jpg', 'notes.txt']);
    expect(report.notes).toContain('ffprobe not used (disabled); its fields are not compared');
    expect(report.tally.durationSec!['not-compared']).toBe(2);
    if (hasExiftool) {
      expect(report.tally.make).toMatchObject({ agree: 1, 'both-absent': 1, agreementPct: 100 });
      expect(report.tally.gps).toMatchObject({ agree: 1, 'both-absent': 1, agreementPct: 100 });
    } else {
      expect(report.tally.make!['not-compared']).toBe(2);
    }
  }, 60_000);

  it('refuses an unknown field and a missing folder with exit code 2', async () => {
    const bad = await validate([dir, '--fields', 'make,colour']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown field\(s\): colour/);
    const none = await validate([]);
    expect(none.code).toBe(2);
  }, 60_000);
});

describe('formatReport', () => {
  it('prints the table, the failures and every disagreement with its source', () => {
    const report: ValidationReport = {
      root: '/evidence',
      fields: ['make'],
      tools: { exhibit: [{ name: 'exifr', version: '7.1.3' }], exiftool: '12.57', ffprobe: null },
      notes: ['ffprobe is not installed (not on PATH): its fields are not compared (apt-get install ffmpeg)'],
      files: [
        { file: 'a.jpg', exhibitType: 'image/jpeg', referenceNotes: [], fields: { make: { verdict: 'disagree', exhibit: '"Canongarbage"', reference: '"Canon"', source: 'IFD0:Make' } } },
        { file: 'b.gif', exhibitType: 'image/gif', exhibitError: { code: 'unsupported-format', message: 'no metadata reader' }, referenceNotes: [], fields: { make: { verdict: 'both-absent', exhibit: '—', reference: '—' } } },
      ],
      tally: { make: { agree: 0, disagree: 1, 'only-exhibit': 0, 'only-reference': 0, 'both-absent': 1, 'not-compared': 0, agreementPct: 0 } },
      disagreements: [{ file: 'a.jpg', field: 'make', verdict: 'disagree', exhibit: '"Canongarbage"', reference: '"Canon"', source: 'IFD0:Make' }],
    };
    const text = formatReport(report);
    expect(text).toContain('reference: exiftool 12.57, ffprobe (not installed)');
    expect(text).toContain('note: ffprobe is not installed');
    expect(text).toMatch(/make\s+0\s+1\s+0\s+0\s+1\s+0\s+0\.0 %/);
    expect(text).toContain('b.gif: unsupported-format: no metadata reader');
    expect(text).toContain('a.jpg  make  [disagree]  exhibit: "Canongarbage"  reference: "Canon"  (IFD0:Make)');
  });
});
