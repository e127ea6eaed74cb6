import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from './cli-error.js';
import { createCliContext } from './context.js';
import { loadCommandModules } from './main.js';
import { runCli } from './program.js';
import { CapturedStream } from './test-support.js';
import { searchQuery } from './commands/search.command.js';
import { bboxOption, hashPrefixOption, isoDateOption, parseCaseTarget } from './commands/option-parsers.js';
import { DEFAULT_OUTPUT_WIDTH, outputWidth } from './render/output-width.js';
import { acquisitionFromOptions, blockSizeBytesFromMb } from './commands/upload.command.js';

async function run(...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  // Nothing in these runs may reach storage or the API: an unroutable address makes a slip fail loudly.
  const ctx = createCliContext({ env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent' }, stdout, stderr });
  const code = await runCli(argv, ctx, await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

describe('command line parsing', () => {
  it('prints help with exit 0 and lists every command', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(EXIT.ok);
    for (const cmd of ['upload', 'login', 'status', 'search', 'show']) expect(out).toContain(cmd);
  });

  it.each([
    [['upload', 'f.bin', '--evidence', 'E1'], /required option '--case/],
    [['upload', 'f.bin', '--case', '../C1', '--evidence', 'E1'], /not a valid case id/],
    [['upload', 'f.bin', '--case', 'C1', '--evidence', 'E1', '--parallel', '0'], /integer from 1 to 32/],
    [['upload', 'f.bin', '--case', 'C1', '--evidence', 'E1', '--block-size-mb', 'lots'], /number above 0/],
    [['upload', 'a/x.bin', 'b/y.bin', '--case', 'C1', '--evidence', 'E1', '--sha256', 'a'.repeat(64)], /one at a time/],
    [['upload', 'a/x.bin', 'b/x.bin', '--case', 'C1', '--evidence', 'E1'], /share the name/],
    [['upload', 'x.bin', '--case', 'C1', '--evidence', 'E1', '--md5', 'xyz'], /32 hexadecimal/],
    [['status', 'C1/E1/extra'], /<caseId> or <caseId>\/<evidenceId>/],
    [['search', 'C1', '--bbox', '1,2,3'], /minLon,minLat,maxLon,maxLat/],
    [['search', 'C1', '--kind', 'banana'], /Allowed choices are image/],
    [['search', 'C1', '--limit', '501'], /integer from 1 to 500/],
    [['search', 'C1', '--from', 'yesterday'], /YYYY-MM-DD/],
    [['search', 'C1', '--hash', 'ecfc0bd'], /8 to 64 hex digits/],
    [['search', 'C1', '--width', '5'], /0 \(no limit\) or at least 20/],
    [['status', 'C1', '--width', 'wide'], /integer from 0/],
    [['search', 'C1', '--hash', 'ecfc0bd0830g'], /hexadecimal digits/],
    [['search', 'C1', '--hash', 'a'.repeat(65)], /8 to 64 hex digits/],
    [['show', 'C1', 'not a file id'], /not a file id/],
    [['login', '--user', 'ana'], /at least one --role/],
    [['login', '--user', 'ana', '--role', 'wizard'], /unknown role/],
    [['frobnicate'], /unknown command/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const { code, err } = await run(...argv);
    expect(err).toMatch(message);
    expect(code).toBe(EXIT.usage);
  });

  it('names a missing upload file once, in one clean line', async () => {
    const { code, err, out } = await run('upload', '/nonexistent/evidence.zip', '--case', 'C1', '--evidence', 'E1');
    expect(err).toBe('exhibit upload: /nonexistent/evidence.zip: no such file\n');
    expect(out).toBe('');
    expect(code).toBe(EXIT.error);
    const folder = await run('upload', os.tmpdir(), '--case', 'C1', '--evidence', 'E1');
    expect(folder.err).toBe(`exhibit upload: ${os.tmpdir()}: a folder, not a file (upload the files in it, or an archive of it)\n`);
  });

  it('refuses an existing --thumbnail file before any request (a view is recorded in custody), and leaves it alone', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-show-'));
    try {
      const taken = path.join(dir, 'thumb.jpg');
      await writeFile(taken, 'mine');
      // The API address is unreachable: had the command asked it first, this would say "cannot reach".
      const { code, err } = await run('show', 'C1', 'f0123', '--thumbnail', taken);
      expect(err).toBe(`exhibit: ${taken} already exists; choose another name (nothing was fetched)\n`);
      expect(code).toBe(EXIT.error);
      expect(await readFile(taken, 'utf8')).toBe('mine');
      // A new name is created only for the fetch, and removed when the fetch fails.
      const fresh = path.join(dir, 'new.jpg');
      expect((await run('show', 'C1', 'f0123', '--thumbnail', fresh)).err).toMatch(/cannot reach the Exhibit API/);
      await expect(readFile(fresh)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a missing --keys file once', async () => {
    const { code, err } = await run('custody', 'verify', 'C1', '--offline', '--keys', '/nonexistent/keys.json');
    expect(err).toBe('exhibit: cannot read /nonexistent/keys.json: no such file\n');
    expect(code).toBe(EXIT.usage);
  });

  it('reports an unreachable API with a hint and exit 1', async () => {
    const { code, err } = await run('status', 'C1/E1');
    expect(err).toMatch(/cannot reach the Exhibit API at http:\/\/127\.0\.0\.1:9\/api.*npm start/);
    expect(code).toBe(EXIT.error);
  });
});

describe('option values', () => {
  it('maps search options onto the API query parameters', () => {
    expect(
      searchQuery({
        kind: 'image',
        from: '2023-01-01',
        to: '2023-12-31T23:59:59Z',
        make: 'Apple',
        hasGps: true,
        bbox: '-0.5,51.3,0.3,51.7',
        hash: 'ABCDEF'.padEnd(64, '0'),
        path: 'DCIM',
        mismatch: true,
        evidence: 'EX01',
        sort: 'takenAt',
        order: 'desc',
        limit: 10,
        offset: 20,
      }),
    ).toEqual({
      evidenceId: 'EX01',
      kind: 'image',
      mime: undefined,
      takenFrom: '2023-01-01',
      takenTo: '2023-12-31T23:59:59Z',
      make: 'Apple',
      model: undefined,
      hasGps: true,
      bbox: '-0.5,51.3,0.3,51.7',
      hash: 'abcdef'.padEnd(64, '0'),
      path: 'DCIM',
      extMismatch: true,
      stage: undefined,
      sort: 'takenAt',
      order: 'desc',
      limit: 10,
      offset: 20,
    });
  });

  it('takes the 12-digit SHA-256 prefix that search prints as --hash', () => {
    expect(searchQuery({ hash: ' ECFC0BD08302 ' }).hash).toBe('ecfc0bd08302');
    expect(hashPrefixOption('ecfc0bd0')).toBe('ecfc0bd0');
  });

  it('takes the table width from --width (0: no limit), else the terminal, else 120 for a pipe or file', () => {
    expect(outputWidth({ write: () => true, isTTY: true, columns: 97 })).toBe(97);
    expect(outputWidth({ write: () => true, isTTY: true, columns: 97 }, 200)).toBe(200);
    expect(outputWidth({ write: () => true, isTTY: true, columns: 97 }, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(outputWidth({ write: () => true, isTTY: false })).toBe(DEFAULT_OUTPUT_WIDTH);
    expect(outputWidth({ write: () => true })).toBe(120);
  });

  it('parses targets, boxes and times', () => {
    expect(parseCaseTarget('C1')).toEqual({ caseId: 'C1' });
    expect(parseCaseTarget('C1/EX01')).toEqual({ caseId: 'C1', evidenceId: 'EX01' });
    expect(bboxOption(' -43.3, -23.0 ,-43.1,-22.8')).toBe('-43.3,-23.0,-43.1,-22.8');
    expect(() => bboxOption('10,0,-10,1')).toThrow(/min must not exceed max/);
    expect(isoDateOption('2024-05-01 12:30')).toBe('2024-05-01T12:30');
  });

  it('turns --block-size-mb into whole KiB and builds the acquisition record', () => {
    expect(blockSizeBytesFromMb(0.0625)).toBe(64 * 1024);
    expect(blockSizeBytesFromMb(8)).toBe(8 * 1024 * 1024);
    expect(blockSizeBytesFromMb(undefined)).toBeUndefined();
    expect(
      acquisitionFromOptions(['x.bin'], { case: 'C1', evidence: 'E1', parallel: 4, examiner: 'Ana', sha1: 'AB'.repeat(20) }),
    ).toEqual({ examiner: 'Ana', sha1: 'ab'.repeat(20) });
  });
});
