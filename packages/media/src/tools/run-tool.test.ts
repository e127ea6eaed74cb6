import { describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { redactToolOutput, runTool } from './run-tool.js';

const node = process.execPath;
const opts = { timeoutMs: 20_000, maxStdoutBytes: 1 << 20 };

describe('runTool', () => {
  it('returns stdout of a successful run', async () => {
    const { stdout } = await runTool('node', node, ['-e', 'process.stdout.write("hello")'], opts);
    expect(stdout.toString()).toBe('hello');
  });

  it('collects extra outputs on fds 3, 4, ... apart from stdout and from each other', async () => {
    const script = 'const fs = require("fs"); fs.writeSync(4, "second"); fs.writeSync(3, "first"); process.stdout.write("out")';
    const { stdout, outputs } = await runTool('node', node, ['-e', script], { ...opts, extraOutputs: 3 });
    expect(stdout.toString()).toBe('out');
    expect(outputs.map((b) => b.toString())).toEqual(['first', 'second', '']);
  });

  it('applies the output cap to each extra output', async () => {
    const script = 'const fs = require("fs"); for (;;) fs.writeSync(4, "x".repeat(65536))';
    const err = await runTool('node', node, ['-e', script], { ...opts, maxStdoutBytes: 100_000, extraOutputs: 2 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
  });

  it('kills a run that exceeds its timeout and fails with timeout', async () => {
    const err = await runTool('node', node, ['-e', 'setInterval(() => {}, 1000)'], { ...opts, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'timeout')).toBe(true);
  });

  it('kills a run that prints more than allowed', async () => {
    const err = await runTool('node', node, ['-e', 'for (;;) process.stdout.write("x".repeat(65536))'], { ...opts, maxStdoutBytes: 100_000 }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'limit-exceeded')).toBe(true);
  });

  it('stops on abort', async () => {
    const controller = new AbortController();
    const run = runTool('node', node, ['-e', 'setInterval(() => {}, 1000)'], { ...opts, abortSignal: controller.signal });
    controller.abort();
    const err = await run.catch((e: unknown) => e);
    expect(isExhibitError(err, 'aborted')).toBe(true);
  });

  it('finds stderr markers anywhere in stderr: split between writes, or before more than the kept tail', async () => {
    // The marker's two halves in separate writes, then 64 KiB of other warnings (past MEDIA_LIMITS.maxStderrBytes).
    const script = `process.stderr.write("Estimating dur"); setTimeout(() => { process.stderr.write("ation from bitrate\\n" + "w\\n".repeat(32768)); }, 50);`;
    const seen = await runTool('node', node, ['-e', script], { ...opts, stderrMarkers: ['Estimating duration from bitrate', 'never printed'] });
    expect(seen.markersSeen).toEqual(['Estimating duration from bitrate']);
    expect(seen.stderr).not.toContain('Estimating');
    expect((await runTool('node', node, ['-e', 'process.stderr.write("nothing")'], { ...opts, stderrMarkers: ['Estimating'] })).markersSeen).toEqual([]);
  });

  it('fails with tool-failed and a redacted stderr tail on a non-zero exit', async () => {
    const url = 'https://acct.blob.core.windows.net/evidence/c/e/x.mov?sv=2024&sig=TOPSECRET';
    const err = await runTool('node', node, ['-e', `console.error("cannot open ${url}"); process.exit(3)`], { ...opts, secrets: [url] }).catch((e: unknown) => e);
    expect(isExhibitError(err, 'tool-failed')).toBe(true);
    const e = err as { message: string; details: { exitCode: number; stderr: string } };
    expect(e.details.exitCode).toBe(3);
    expect(e.message).toContain('cannot open <input>');
    expect(JSON.stringify(e.details) + e.message).not.toContain('TOPSECRET');
  });

  it('reports a missing binary as tool-unavailable (retryable)', async () => {
    const err = await runTool('ffmpeg', '/nonexistent/ffmpeg', ['-version'], opts).catch((e: unknown) => e);
    expect(isExhibitError(err, 'tool-unavailable')).toBe(true);
    expect((err as { retryable: boolean }).retryable).toBe(true);
  });
});

describe('redactToolOutput', () => {
  it('strips query strings of URLs it was not told about', () => {
    const out = redactToolOutput('Opening https://x.blob.core.windows.net/c/b.mp4?se=1&sig=abc%2F for reading');
    expect(out).toBe('Opening https://x.blob.core.windows.net/c/b.mp4?<redacted> for reading');
  });
});
