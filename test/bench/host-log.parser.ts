/**
 * Per-stage timings from the host's JSON log: the queue worker logs
 * `"msg":"message processed"` with `queue` and `durationMs` at debug level.
 * Stage names come from the log alone, so renamed or merged stages need no
 * change here.
 */

export interface StageTiming {
  queue: string;
  count: number;
  totalMs: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** From the first message's start to the last one's end: how long the stage was busy at all. */
  spanMs: number;
  /** Epoch ms of the first message's start and the last one's end. */
  firstStartAt: number;
  lastEndAt: number;
  /** Outcomes as returned by the stage (done / skipped / failed …). */
  statuses: Record<string, number>;
}

export interface HostLogSummary {
  stages: StageTiming[];
  /** Lines at warn (40) or above, by message, to spot retries that inflate the timings. */
  problems: Record<string, number>;
  /** Epoch ms of the first 'evidence processing complete' line: the host's own end time, free of API polling. */
  completeLoggedAt: number | null;
  /**
   * The member-bytes cache (issue 12), from analyse's 'analysed from one read'
   * lines (debug) and the cache's own counters on the last 'unpacked' line;
   * null when no line carried them (no cache, or an older host).
   */
  memberCache: MemberCacheFigures | null;
}

export interface MemberCacheFigures {
  /** Members analysed from the cache (a redelivered batch's again), and their sizes: bytes not read from storage again. */
  hits: number;
  hitBytes: number;
  /** Members analysed without it, and the bytes analyse read from storage for them (a video's tools, reading by URL, not counted). */
  misses: number;
  missBytes: number;
  /** The cache's counters when the last archive finished unpacking (offered, refused, expired, held). */
  atLastUnpack: Record<string, number> | null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summariseHostLog(text: string): HostLogSummary {
  const byQueue = new Map<string, { durations: number[]; starts: number[]; ends: number[]; statuses: Record<string, number> }>();
  const problems: Record<string, number> = {};
  let completeLoggedAt: number | null = null;
  let memberCache: MemberCacheFigures | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: unknown; queue?: unknown; durationMs?: unknown; status?: unknown; time?: unknown; level?: unknown; memberCache?: unknown; size?: unknown; bytesFetched?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // a line cut by a kill
    }
    if (typeof entry.level === 'number' && entry.level >= 40) {
      const key = String(entry.msg);
      problems[key] = (problems[key] ?? 0) + 1;
    }
    if (entry.memberCache !== undefined) {
      memberCache ??= { hits: 0, hitBytes: 0, misses: 0, missBytes: 0, atLastUnpack: null };
      if (entry.memberCache === 'hit') {
        memberCache.hits += 1;
        memberCache.hitBytes += typeof entry.size === 'number' ? entry.size : 0;
      } else if (entry.memberCache === 'miss') {
        memberCache.misses += 1;
        memberCache.missBytes += typeof entry.bytesFetched === 'number' ? entry.bytesFetched : 0;
      } else if (typeof entry.memberCache === 'object' && entry.memberCache !== null) {
        memberCache.atLastUnpack = entry.memberCache as Record<string, number>;
      }
    }
    if (entry.msg === 'evidence processing complete' && completeLoggedAt === null && typeof entry.time === 'number') completeLoggedAt = entry.time;
    if (entry.msg !== 'message processed' || typeof entry.queue !== 'string' || typeof entry.durationMs !== 'number') continue;
    let q = byQueue.get(entry.queue);
    if (!q) byQueue.set(entry.queue, (q = { durations: [], starts: [], ends: [], statuses: {} }));
    q.durations.push(entry.durationMs);
    const end = typeof entry.time === 'number' ? entry.time : Date.parse(String(entry.time));
    q.ends.push(end);
    q.starts.push(end - entry.durationMs);
    const status = typeof entry.status === 'string' ? entry.status : 'none';
    q.statuses[status] = (q.statuses[status] ?? 0) + 1;
  }
  const stages = [...byQueue].map(([queue, q]): StageTiming => {
    const sorted = [...q.durations].sort((a, b) => a - b);
    const totalMs = sorted.reduce((s, d) => s + d, 0);
    return {
      queue,
      count: sorted.length,
      totalMs,
      meanMs: totalMs / sorted.length,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      maxMs: sorted.at(-1) ?? 0,
      spanMs: Math.max(...q.ends) - Math.min(...q.starts),
      firstStartAt: Math.min(...q.starts),
      lastEndAt: Math.max(...q.ends),
      statuses: q.statuses,
    };
  });
  // By when each stage first started, so the table reads top to bottom roughly as the data flows.
  stages.sort((a, b) => a.firstStartAt - b.firstStartAt || a.queue.localeCompare(b.queue));
  return { stages, problems, completeLoggedAt, memberCache };
}
