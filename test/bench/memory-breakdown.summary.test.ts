import { describe, expect, it } from 'vitest';
import { classifyMappings, parseBreakdown, renderBreakdown, renderQuarters, type Mapping } from './memory-breakdown.summary.js';

const MiB = 1024 * 1024;
const kb = (mib: number) => mib * 1024;

describe('classifyMappings', () => {
  // The layout of a host's smaps (PGlite opened, a thread arena, V8 pages), as read on Linux x64.
  const mappings: Mapping[] = [
    ['400000', 7 * MiB, 'r--p', '/usr/bin/node', kb(6)],
    ['2b849000', 93 * MiB, 'rw-p', '[heap]', kb(92)],
    ['7f8574000000', 2048 * MiB, '---p', '', 0],
    ['7f85f4000000', 174 * MiB, 'rw-p', '', kb(158)],
    ['7f85fee00000', 8018 * MiB, '---p', '', 0],
    ['7f377c000000', 25 * MiB, 'rw-p', '', kb(22)],
    ['7f3781900000', 39 * MiB, '---p', '', 0],
    ['3ace5b040000', 256 * 1024, 'rw-p', '', 256],
    ['7ffd00000000', 132 * 1024, 'rw-p', '[stack]', 64],
  ];

  it('puts each resident byte in one kind', () => {
    const by = classifyMappings(mappings);
    expect(by['wasm-memory']).toBe(158 * MiB);
    expect(by['main-arena']).toBe(92 * MiB);
    expect(by['thread-arenas']).toBe(22 * MiB);
    expect(by['file-backed']).toBe(6 * MiB);
    expect(by['other-anonymous']).toBe(256 * 1024 + 64 * 1024);
  });

  it('does not take a large mapping for WebAssembly memory without the guard right after it', () => {
    const gap: Mapping[] = [
      ['7f85f4000000', 174 * MiB, 'rw-p', '', kb(158)],
      ['7f8600000000', 8018 * MiB, '---p', '', 0],
    ];
    expect(classifyMappings(gap)['wasm-memory']).toBe(0);
    expect(classifyMappings(gap)['thread-arenas']).toBe(0);
    expect(classifyMappings(gap)['other-anonymous']).toBe(158 * MiB);
  });

  it('does not take a mapping on a 64-MiB boundary but longer than an arena for one', () => {
    expect(classifyMappings([['7f377c000000', 96 * MiB, 'rw-p', '', kb(90)]])['thread-arenas']).toBe(0);
  });
});

describe('renderBreakdown', () => {
  it('reports idle and peak from the samples the preload writes', () => {
    const heap = { committed: 10 * MiB, used: 5 * MiB, young: 2 * MiB, code: 0, malloced: 1 * MiB, external: 0 };
    const line = (t: number, heapKb: number) =>
      JSON.stringify({ t, main: heap, workers: [heap, heap], memoryUsage: { arrayBuffers: MiB }, threads: '20', mappings: [['2b849000', 200 * MiB, 'rw-p', '[heap]', heapKb]] });
    const samples = parseBreakdown([line(0, kb(10)), line(1000, kb(50)), JSON.stringify({ t: 2000, error: 'x' }), line(3000, kb(20))].join('\n'));
    expect(samples.map((s) => s.rss / MiB)).toEqual([10, 50, 20]);
    const text = renderBreakdown(samples);
    expect(text).toContain('| RSS (sum of smaps) | 10 MiB | 50 MiB | 50 MiB |');
    expect(text).toContain('| worker isolates: count, committed heap (young) | 2, 20 MiB (4 MiB) | 2, 20 MiB (4 MiB) |');
    expect(text).toContain('peak at 1 s');
  });
});

describe('renderQuarters', () => {
  it('gives the level and the running peak at each quarter of the run, so growth and spikes read apart', () => {
    const heap = { committed: 10 * MiB, used: 5 * MiB, young: 2 * MiB, code: 0, malloced: 1 * MiB, external: 0 };
    const line = (t: number, heapMib: number) =>
      JSON.stringify({ t, main: heap, workers: [heap], memoryUsage: { arrayBuffers: 3 * MiB }, threads: '20', mappings: [['2b849000', 200 * MiB, 'rw-p', '[heap]', kb(heapMib)]] });
    // A spike at 1 s, then a level rising from 20 to 40 MiB.
    const samples = parseBreakdown([line(0, 10), line(1000, 90), line(2000, 20), line(4000, 30), line(6000, 35), line(8000, 40)].join('\n'));
    const rows = renderQuarters(samples).split('\n').slice(2);
    expect(rows).toEqual([
      '| 25 % (2 s) | 20 MiB | 90 MiB | 20 MiB | 3 MiB | 10 MiB | 10 MiB |',
      '| 50 % (4 s) | 30 MiB | 90 MiB | 30 MiB | 3 MiB | 10 MiB | 10 MiB |',
      '| 75 % (6 s) | 35 MiB | 90 MiB | 35 MiB | 3 MiB | 10 MiB | 10 MiB |',
      '| 100 % (8 s) | 40 MiB | 90 MiB | 40 MiB | 3 MiB | 10 MiB | 10 MiB |',
    ]);
  });
});
