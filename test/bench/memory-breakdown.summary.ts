/**
 * `npx tsx test/bench/memory-breakdown.summary.ts <memory-<pid>.jsonl>`
 *
 * Reads the samples memory-breakdown.preload.mjs wrote (a bench run with
 * `--memory-breakdown MS`) and prints what the host's resident memory was
 * made of at its first sample (idle, before the upload), at the sample of
 * largest RSS, and the largest each part reached in any sample; then the
 * level at each quarter of the run (renderQuarters).
 */
import { readFileSync } from 'node:fs';

/** One line of /proc/<pid>/smaps as the preload keeps it: start (hex), bytes, permissions, name, Rss in kB. */
export type Mapping = [start: string, bytes: number, perms: string, name: string, rssKb: number];

export type MappingKind = 'wasm-memory' | 'main-arena' | 'thread-arenas' | 'file-backed' | 'other-anonymous';

export const MAPPING_KINDS: readonly MappingKind[] = ['wasm-memory', 'main-arena', 'thread-arenas', 'other-anonymous', 'file-backed'];

/** glibc's per-thread arenas are HEAP_MAX_SIZE (64 MiB on 64-bit) reservations aligned on their size. */
const ARENA_BYTES = 64 * 1024 * 1024;
/** V8 reserves a WebAssembly memory with guard regions of gigabytes after its accessible part. */
const WASM_GUARD_MIN_BYTES = 1024 ** 3;

const isAnonymous = (name: string) => name === '' || name.startsWith('[anon');

/**
 * Resident bytes by kind of mapping. A WebAssembly memory (PGlite's; a HEIC
 * decoder thread's libheif) is an anonymous read-write mapping right before a
 * reserved (---p) guard of at least 1 GiB; a thread arena an anonymous
 * read-write mapping starting on a 64-MiB boundary, at most 64 MiB long;
 * `[heap]` is the main arena. The rest of the anonymous memory is V8's heaps
 * of every isolate, compiled code, and buffers glibc mmap'd on their own.
 */
export function classifyMappings(mappings: readonly Mapping[]): Record<MappingKind, number> {
  const out: Record<MappingKind, number> = { 'wasm-memory': 0, 'main-arena': 0, 'thread-arenas': 0, 'file-backed': 0, 'other-anonymous': 0 };
  mappings.forEach(([start, bytes, perms, name, rssKb], i) => {
    const rss = rssKb * 1024;
    if (rss === 0) return;
    if (name === '[heap]') out['main-arena'] += rss;
    else if (name.startsWith('/')) out['file-backed'] += rss;
    else if (!isAnonymous(name)) out['other-anonymous'] += rss; // [stack], [vdso] …
    else {
      const next = mappings[i + 1];
      const end = BigInt(`0x${start}`) + BigInt(bytes);
      const guarded = next !== undefined && next[2] === '---p' && BigInt(`0x${next[0]}`) === end && next[1] >= WASM_GUARD_MIN_BYTES;
      if (perms.startsWith('rw') && guarded) out['wasm-memory'] += rss;
      else if (perms.startsWith('rw') && BigInt(`0x${start}`) % BigInt(ARENA_BYTES) === 0n && bytes <= ARENA_BYTES) out['thread-arenas'] += rss;
      else out['other-anonymous'] += rss;
    }
  });
  return out;
}

interface Heap {
  committed: number;
  used: number;
  young: number;
  code: number;
  malloced: number;
  external: number;
}

export interface BreakdownSample {
  t: number;
  rss: number;
  byMapping: Record<MappingKind, number>;
  mainHeap: Heap;
  workers: Heap[];
  arrayBuffers: number;
  threads: number | null;
}

export function parseBreakdown(text: string): BreakdownSample[] {
  const out: BreakdownSample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const s = JSON.parse(line) as any;
    if (s.error || !s.mappings) continue;
    const byMapping = classifyMappings(s.mappings as Mapping[]);
    out.push({
      t: s.t,
      rss: Object.values(byMapping).reduce((a, b) => a + b, 0),
      byMapping,
      mainHeap: s.main,
      workers: s.workers,
      arrayBuffers: s.memoryUsage?.arrayBuffers ?? 0,
      threads: s.threads === null ? null : Number(s.threads),
    });
  }
  return out;
}

const MiB = 1024 * 1024;
const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;

/** Markdown rows: idle (first sample), at peak RSS, and each part's own largest value. */
export function renderBreakdown(samples: readonly BreakdownSample[]): string {
  if (samples.length === 0) return 'no samples';
  const first = samples[0]!;
  const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
  const sum = (hs: Heap[], k: keyof Heap) => hs.reduce((a, h) => a + h[k], 0);
  const rows: Array<[string, (s: BreakdownSample) => number | string]> = [
    ['RSS (sum of smaps)', (s) => s.rss],
    ...MAPPING_KINDS.map((k) => [`  ${k}`, (s: BreakdownSample) => s.byMapping[k]] as [string, (s: BreakdownSample) => number]),
    ['V8 main isolate: committed heap (young generation)', (s) => `${mib(s.mainHeap.committed)} (${mib(s.mainHeap.young)})`],
    ['V8 main isolate: malloced, ArrayBuffers', (s) => `${mib(s.mainHeap.malloced)}, ${mib(s.arrayBuffers)}`],
    ['worker isolates: count, committed heap (young)', (s) => `${s.workers.length}, ${mib(sum(s.workers, 'committed'))} (${mib(sum(s.workers, 'young'))})`],
    ['threads', (s) => String(s.threads ?? 'n/a')],
  ];
  const cell = (v: number | string) => (typeof v === 'number' ? mib(v) : v);
  const lines = ['| part | idle (first sample) | at peak RSS | largest in any sample |', '|---|---|---|---|'];
  for (const [label, get] of rows) {
    const values = samples.map(get);
    const largest = typeof values[0] === 'number' ? mib(Math.max(...(values as number[]))) : '';
    lines.push(`| ${label} | ${cell(get(first))} | ${cell(get(peak))} | ${largest} |`);
  }
  lines.push(`\n${samples.length} samples over ${((samples.at(-1)!.t - first.t) / 1000).toFixed(0)} s; peak at ${((peak.t - first.t) / 1000).toFixed(0)} s`);
  return lines.join('\n');
}

/**
 * Markdown rows at a quarter, half, three quarters and all of the run (the
 * sample nearest that time from the first): the RSS there, the largest RSS up
 * to there, and the parts that grew in the long disk runs (the main arena,
 * the main isolate's ArrayBuffers, the V8 heaps): growth with the run shows
 * as a rising level, a spike only in the running peak.
 */
export function renderQuarters(samples: readonly BreakdownSample[]): string {
  if (samples.length === 0) return 'no samples';
  const t0 = samples[0]!.t;
  const span = samples.at(-1)!.t - t0;
  const lines = [
    '| of the run | RSS | largest RSS so far | main arena | ArrayBuffers (main isolate) | V8 main isolate committed | worker isolates committed |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const quarter of [1, 2, 3, 4]) {
    const at = t0 + (span * quarter) / 4;
    const s = samples.reduce((a, b) => (Math.abs(b.t - at) < Math.abs(a.t - at) ? b : a));
    const peak = Math.max(...samples.filter((x) => x.t <= s.t).map((x) => x.rss));
    const workers = s.workers.reduce((a, h) => a + h.committed, 0);
    lines.push(`| ${quarter * 25} % (${((s.t - t0) / 1000).toFixed(0)} s) | ${mib(s.rss)} | ${mib(peak)} | ${mib(s.byMapping['main-arena'])} | ${mib(s.arrayBuffers)} | ${mib(s.mainHeap.committed)} | ${mib(workers)} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: memory-breakdown.summary.ts <memory-<pid>.jsonl>');
  const samples = parseBreakdown(readFileSync(file, 'utf8'));
  process.stdout.write(`${renderBreakdown(samples)}\n\n${renderQuarters(samples)}\n`);
}
