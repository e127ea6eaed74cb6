/**
 * Loaded with NODE_OPTIONS="--import <this file>" by the benches when
 * `--memory-breakdown` is given (bench-host.support.ts): every
 * $EXHIBIT_BENCH_MEMORY_BREAKDOWN_MS milliseconds the host writes one JSON line
 * to $EXHIBIT_BENCH_PROFILE_DIR/memory-<pid>.jsonl with what its resident
 * memory is made of:
 *
 * - by mapping (/proc/self/smaps, classified by memory-breakdown.summary.ts:
 *   PGlite's WebAssembly memory, glibc's main and thread arenas, file-backed,
 *   other anonymous), the mappings kept only as [size, rss, kind] to stay small;
 * - by V8 isolate: process.report's javascriptHeap of the main thread and of
 *   every worker thread (the only way Node 20 gives a worker's heap from
 *   outside it), with each one's new-space (young generation) share;
 * - process.memoryUsage() (ArrayBuffers and external memory of the main isolate).
 *
 * A diagnostic aid: process.report stops every worker for a moment, so runs
 * with it are for finding where memory goes, not for the figures.
 */
import { readFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.EXHIBIT_BENCH_PROFILE_DIR;
const every = Number(process.env.EXHIBIT_BENCH_MEMORY_BREAKDOWN_MS ?? 0);
// Azurite's entry script, not any argument naming 'azurite' (a checkout path may: /work/wt/azurite-cost).
const isAzurite = /[\\/]azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(process.argv[1] ?? '');
if (dir && every > 0 && !isAzurite) {
  const file = path.join(dir, `memory-${process.pid}.jsonl`);
  const MAP = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/;
  const mappings = () => {
    const out = [];
    let cur = null;
    for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
      const m = MAP.exec(line);
      if (m) {
        cur = { start: m[1], bytes: parseInt(m[2], 16) - parseInt(m[1], 16), perms: m[3], name: m[4].trim(), rssKb: 0 };
        out.push(cur);
      } else if (cur && line.startsWith('Rss:')) cur.rssKb = Number(/(\d+)/.exec(line)[1]);
    }
    return out.filter((m) => m.rssKb > 0 || m.perms === '---p');
  };
  const heap = (h) => {
    const young = h.heapSpaces?.new_space ?? h.heapSpaces?.new_large_object_space;
    return {
      total: h.totalMemory,
      committed: h.totalCommittedMemory,
      used: h.usedMemory,
      malloced: h.mallocedMemory,
      peakMalloced: h.peakMallocedMemory,
      external: h.externalMemory,
      young: (h.heapSpaces?.new_space?.memorySize ?? 0) + (h.heapSpaces?.new_large_object_space?.memorySize ?? 0),
      youngUsed: young?.spaceUsedSize ?? 0,
      code: (h.heapSpaces?.code_space?.memorySize ?? 0) + (h.heapSpaces?.code_large_object_space?.memorySize ?? 0),
    };
  };
  const tick = () => {
    try {
      const t = Date.now();
      const report = process.report.getReport();
      const line = {
        t,
        reportMs: Date.now() - t,
        memoryUsage: process.memoryUsage(),
        main: heap(report.javascriptHeap),
        workers: (report.workers ?? []).map((w) => ({ threadId: w.header?.threadId ?? null, ...heap(w.javascriptHeap) })),
        threads: readFileSync('/proc/self/status', 'utf8').match(/^Threads:\s+(\d+)/m)?.[1] ?? null,
        mappings: mappings().map((m) => [m.start, m.bytes, m.perms, m.name, m.rssKb]),
      };
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch (err) {
      appendFileSync(file, `${JSON.stringify({ t: Date.now(), error: String(err) })}\n`);
    }
  };
  setInterval(tick, every).unref();
}
