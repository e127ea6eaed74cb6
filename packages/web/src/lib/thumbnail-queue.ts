/**
 * Which waiting thumbnail to fetch next. The newest first (a fast scroll has
 * moved on from older requests), but a cell on screen before any other: the
 * grid renders the rows around the screen too (overscan), and the server's
 * thumbnails come slowly (each view is appended to the evidence item's custody
 * log before it is answered, and appends to one log take turns: six at once
 * came back only about twice as fast as one at a time). Fetched newest first,
 * the first screen of a gallery waited behind the thumbnails of the rows below
 * it (docs/benchmarks.md: p50 3.4 s before, 1.9 s after, at 100,000 files).
 */
export function takeNextThumbnail<T extends { onScreen(): boolean }>(waiting: T[]): T | undefined {
  for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.onScreen()) return waiting.splice(i, 1)[0];
  return waiting.pop();
}
