/**
 * Which waiting thumbnail to fetch next. The newest first (a fast scroll has
 * moved on from older requests), but a cell on screen before any other: the
 * grid renders the rows around the screen too (overscan), and every thumbnail
 * request is recorded in the custody log before it is answered, so the server
 * serves them one after another; fetched newest first, the first screen of a
 * gallery waited behind the thumbnails of the rows below it.
 */
export function takeNextThumbnail<T extends { onScreen(): boolean }>(waiting: T[]): T | undefined {
  for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.onScreen()) return waiting.splice(i, 1)[0];
  return waiting.pop();
}
