import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExhibitError, isExhibitError } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { testTools, testVideo } from '../test-support/fixtures.js';
import { ALLOWED_PROTOCOLS, classifyToolFailure, toolInput, toolInputFor } from './ffmpeg-input.js';
import { runTool } from './run-tool.js';

const URL_ = 'https://acct.blob.core.windows.net/evidence/case.zip?sv=2024-01-01&sig=SECRETSIGNATURE';

function optionAfter(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}

/** A source whose URL is a span of a larger blob; counts the URLs handed out. */
function spanSource(urlOffset: unknown, size: unknown): BufferSource & { urlCalls: number } {
  let urlCalls = 0;
  const source = new BufferSource(Buffer.alloc(0), 'member.mp4', () => {
    urlCalls++;
    return URL_;
  });
  Object.defineProperty(source, 'urlOffset', { value: urlOffset });
  Object.defineProperty(source, 'size', { value: size });
  return Object.defineProperty(source, 'urlCalls', { get: () => urlCalls }) as BufferSource & { urlCalls: number };
}

describe('toolInput', () => {
  it('gives a whole blob by its URL, with subfile refused', async () => {
    const input = await toolInput(new BufferSource(Buffer.alloc(10), 'a.mp4', () => URL_));
    expect(input.url).toBe(URL_);
    expect(optionAfter(input.args, '-protocol_whitelist')).toBe(ALLOWED_PROTOCOLS.join(','));
    expect(input.args).not.toContain('-offset');
    expect(input.secrets).toEqual([URL_]);
  });

  it('gives a span through subfile, end exclusive, and allows subfile for that input only', async () => {
    const input = await toolInput(spanSource(1000, 14334));
    expect(input.url).toBe(`subfile,,start,1000,end,15334,,:${URL_}`);
    expect(optionAfter(input.args, '-protocol_whitelist')).toBe('subfile,http,https,tcp,tls');
    // The first HTTP request starts at the span.
    expect(optionAfter(input.args, '-offset')).toBe('1000');
    // Both forms are redacted: tools print the whole input or only the URL inside it.
    expect(input.secrets).toEqual([input.url, URL_]);
  });

  it('takes offset 0 as a span too (the tools must still stop at its end)', async () => {
    const input = await toolInput(spanSource(0, 5));
    expect(input.url).toBe(`subfile,,start,0,end,5,,:${URL_}`);
  });

  it('lets nothing but whole numbers reach the command line, before asking for a URL', async () => {
    const hostile: Array<[unknown, unknown]> = [
      [-1, 10],
      [1.5, 10],
      [Number.NaN, 10],
      [Number.POSITIVE_INFINITY, 10],
      [2 ** 53, 10],
      [2 ** 53 - 1, 10],
      [0, -10],
      [0, 0.5],
      ['0,,:file:/etc/passwd', 10],
      [0, '10,,:file:/etc/passwd'],
      [10n, 10],
    ];
    for (const [offset, size] of hostile) {
      const source = spanSource(offset, size);
      const err = await toolInput(source).catch((e: unknown) => e);
      expect(isExhibitError(err, 'invalid-argument'), `${String(offset)} + ${String(size)}`).toBe(true);
      expect(source.urlCalls).toBe(0);
      expect(() => toolInputFor(URL_, { start: offset as number, size: size as number })).toThrow();
    }
  });

  it('refuses an empty span: subfile would read an end of 0 as "to the end of the blob"', async () => {
    for (const offset of [0, 1000]) {
      const err = await toolInput(spanSource(offset, 0)).catch((e: unknown) => e);
      expect(isExhibitError(err, 'corrupt-file')).toBe(true);
    }
  });
});

describe('the protocol allowlist of a span input (real ffprobe)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-subfile-'));
  const clip = path.join(dir, 'clip.mp4');
  let clipSize = 0;

  beforeAll(async () => {
    const bytes = await testVideo({ seconds: 1 });
    writeFileSync(clip, bytes);
    clipSize = bytes.length;
  }, 60_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function ffprobe(args: readonly string[]) {
    const tool = await testTools().resolve('ffprobe');
    return runTool('ffprobe', tool.path, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', ...args], {
      timeoutMs: 30_000,
      maxStdoutBytes: 1 << 20,
    });
  }

  it('control: without the allowlist, subfile reads a local file', async () => {
    // Proves the crafted inputs below are dangerous, so their refusal means something.
    const { stdout } = await ffprobe(['-i', toolInputFor(`file:${clip}`, { start: 0, size: clipSize }).url]);
    expect(Number(stdout.toString())).toBeCloseTo(1, 1);
  });

  it('cannot use subfile to open a local file, a pipe or another indirection', async () => {
    const inner = [
      `file:${clip}`,
      clip,
      `concat:${clip}|${clip}`,
      `subfile,,start,0,end,10,,:file:${clip}`,
      'pipe:0',
      'subfile,,start,0,end,10,,:file:/etc/passwd',
    ];
    for (const url of inner) {
      const input = toolInputFor(url, { start: 0, size: clipSize });
      const err = await ffprobe([...input.args, '-i', input.url]).catch((e: unknown) => e);
      expect(isExhibitError(classifyToolFailure(err), 'unsupported-format'), url).toBe(true);
    }
  });

  it('records the same reason for the same damaged video every run', async () => {
    // The stderr of two runs on the same file differs in ffmpeg's context addresses.
    const reasons = ['0x55d5c8a0e2c0', '0x5612aa01b940'].map((address) => {
      const err = new ExhibitError('tool-failed', `ffprobe failed: [mov,mp4,m4a,3gp,3g2,mj2 @ ${address}] moov atom not found`, {
        details: { tool: 'ffprobe', exitCode: 1, signal: null, stderr: `[mov,mp4,m4a,3gp,3g2,mj2 @ ${address}] moov atom not found\nclip: Invalid data found when processing input` },
      });
      return classifyToolFailure(err) as ExhibitError;
    });
    expect(reasons.map((r) => [r.code, r.message])).toEqual([
      ['corrupt-file', 'ffprobe failed: moov atom not found'],
      ['corrupt-file', 'ffprobe failed: moov atom not found'],
    ]);
  });
});
