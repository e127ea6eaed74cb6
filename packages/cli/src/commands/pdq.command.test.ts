import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli-error.js';
import { createCliContext } from '../context.js';
import { runCli } from '../program.js';
import { CapturedStream } from '../test-support.js';
import * as pdqCommand from './pdq.command.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/pdq-reference/', import.meta.url));

async function run(...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  // The command works offline: an unroutable API address makes any slip to the network fail loudly.
  const ctx = createCliContext({ env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent' }, stdout, stderr });
  const code = await runCli(argv, ctx, [pdqCommand]);
  return { code, out: stdout.text, err: stderr.text };
}

/** hashes.tsv's hash and quality for a fixture, as the reference tool printed them. */
async function reference(file: string): Promise<{ hash: string; quality: string }> {
  const row = (await readFile(FIXTURES + 'hashes.tsv', 'utf8')).split('\n').find((l) => l.startsWith(`images/${file}\t`))!;
  const cells = row.split('\t');
  return { hash: cells[4]!, quality: cells[5]! };
}

describe('exhibit pdq', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-pdq-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints '<hash>,<quality>,<path>' per file, the reference tool's lines", async () => {
    const files = ['A-harbour.jpg', 'e11-cmyk.jpg', 'e04-rgb16.png', 'g25-rgb-4x7.png'].map((f) => path.join(FIXTURES, 'images', f));
    const { code, out, err } = await run('pdq', ...files);
    expect(err).toBe('');
    expect(code).toBe(EXIT.ok);
    const expected = await Promise.all(files.map(async (f) => {
      const r = await reference(path.basename(f));
      return `${r.hash},${r.quality},${f}`;
    }));
    expect(out).toBe(expected.join('\n') + '\n');
  });

  it('reports a file it cannot decode on stderr, hashes the rest, and exits 1', async () => {
    const broken = path.join(dir, 'not-a-picture.jpg');
    await writeFile(broken, 'this is text, not a JPEG');
    const missing = path.join(dir, 'missing.png');
    const good = path.join(FIXTURES, 'images', 'C-studio.png');
    const { code, out, err } = await run('pdq', broken, good, missing);
    expect(code).toBe(EXIT.error);
    const r = await reference('C-studio.png');
    expect(out).toBe(`${r.hash},${r.quality},${good}\n`);
    const errors = err.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^exhibit pdq: .*not-a-picture\.jpg: /);
    expect(errors[1]).toMatch(/^exhibit pdq: .*missing\.png: .*ENOENT/);
    // Never a made-up all-zero hash for a file that did not decode (the reference tool prints one).
    expect(out).not.toContain('0'.repeat(64));
  });

  it('prints the eight dihedral hashes on one line with --dihedral', async () => {
    const file = path.join(FIXTURES, 'images', 'B-meadow.jpg');
    const { code, out } = await run('pdq', '--dihedral', file);
    expect(code).toBe(EXIT.ok);
    const cells = out.trim().split(',');
    expect(cells).toHaveLength(10);
    const r = await reference('B-meadow.jpg');
    expect(cells[0]).toBe(r.hash);
    expect(cells.slice(0, 8).every((c) => /^[0-9a-f]{64}$/.test(c))).toBe(true);
    expect(new Set(cells.slice(0, 8)).size).toBe(8);
    expect(cells.slice(8)).toEqual([r.quality, file]);
  });

  it('needs at least one file', async () => {
    const { code, err } = await run('pdq');
    expect(code).toBe(EXIT.usage);
    expect(err).toMatch(/missing required argument 'files'/);
  });
});
