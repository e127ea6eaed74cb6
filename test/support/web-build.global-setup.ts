// @ts-expect-error a plain ES module script (packages/web/scripts), no types
import { buildIfStale } from '../../packages/web/scripts/build-if-stale.mjs';

/** Browser tests drive the built app as the host serves it: build it first when a source is newer than dist/. */
export default function setup(): void {
  buildIfStale();
}
