import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection, for the few moments it pays (the index opener after creating a database; tests that
 * show an object is no longer held). `gc` is exposed only while it is taken (the way Jest takes it): the flag reaches
 * only contexts made while it is set, so `globalThis.gc` is left as it was and code the process runs later does not
 * find it. A process started with --expose-gc keeps its own gc, which is used as it is.
 *
 * Never throws: only memory is at stake, so a Node without this way to collect goes on without the collection.
 */
export function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  try {
    if (exposed) return exposed();
    setFlagsFromString('--expose-gc');
    try {
      (runInNewContext('gc') as () => void)();
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  } catch {
    // See above: the caller carries on as it would have without a collection.
  }
}
