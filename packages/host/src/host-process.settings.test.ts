import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOST_MALLOC_ENV, HOST_NODE_FLAGS } from './host-process.settings.js';

/**
 * Run in a node child started with `env`: allocates 64 MiB of 64-KiB Buffers
 * (the size of every socket read node makes: the upload's single read, the
 * parser threads' ranged reads, analyse's reads all arrive as such chunks),
 * keeping a 16-KiB Buffer alive after every 16 of them (the single read's
 * window, cached members, anything longer-lived allocated meanwhile), drops
 * the chunks and collects them, and prints the main arena's (`[heap]`)
 * resident kB before, at the peak and after.
 */
const STREAM_CHUNKS_SCRIPT = `
const { readFileSync } = require('node:fs');
const heapRssKb = () => {
  let on = false, kb = 0;
  for (const l of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(l)) on = l.trimEnd().endsWith('[heap]');
    else if (on && l.startsWith('Rss:')) kb += Number(/\\d+/.exec(l)[0]);
  }
  return kb;
};
globalThis.gc();
const before = heapRssKb();
let chunks = [];
const kept = [];
for (let i = 0; i < 1024; i++) {
  const chunk = Buffer.allocUnsafeSlow(65536);
  chunk.fill(i);
  chunks.push(chunk);
  if (i % 16 === 15) kept.push(Buffer.allocUnsafeSlow(16384).fill(1));
}
const peak = heapRssKb();
chunks = null;
globalThis.gc();
globalThis.gc();
process.stdout.write(JSON.stringify({ before, peak, after: heapRssKb(), kept: kept.length }));
`;

const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

function mainArenaAfterStreamChunks(env: Record<string, string>): { before: number; peak: number; after: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', STREAM_CHUNKS_SCRIPT], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { before: number; peak: number; after: number };
}

describe('HOST_MALLOC_ENV and HOST_NODE_FLAGS', () => {
  it('is what `npm start` sets before it execs the host (the tests and benches start the host with the same)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    const start = pkg.scripts.start!;
    const settings = Object.entries(HOST_MALLOC_ENV).map(([name, value]) => `${name}=${value}`);
    expect(start).toBe(['exec env', ...settings, 'node', ...HOST_NODE_FLAGS, '--import tsx packages/host/src/main.ts'].join(' '));
  });

  // glibc's main arena gives memory back only from its top: with 64-KiB socket chunks served from it, every time V8
  // let garbage chunks pile up before collecting them (up to its 64-MB external-memory step), the arena grew by that
  // pile and stayed that size behind the longer-lived buffers allocated meanwhile: the host grew 397 -> 563 MiB over
  // the 4-GiB disk bench (docs/benchmarks.md, "The host's main arena").
  it.skipIf(!glibc)('main-arena-keeps-collected-stream-chunks: 64 MiB of collected 64-KiB chunks do not stay resident', (ctx) => {
    // The control: glibc's default threshold, the settings before. Where it does not keep the chunks (no `[heap]`
    // mapping, another malloc behind node, a glibc that trims the main arena), the real run below proves nothing.
    const control = mainArenaAfterStreamChunks({ ...HOST_MALLOC_ENV, MALLOC_MMAP_THRESHOLD_: '131072' });
    const controlKib = control.after - control.before;
    ctx.skip(controlKib <= 32 * 1024, `the control (MALLOC_MMAP_THRESHOLD_=131072) kept only ${controlKib} kB in [heap]: this malloc does not show the growth`);
    const kib = mainArenaAfterStreamChunks({ ...HOST_MALLOC_ENV });
    expect(kib.after - kib.before).toBeLessThan(16 * 1024);
  });
});
