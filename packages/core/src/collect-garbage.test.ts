import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { collectGarbage } from './collect-garbage.js';

type GcHolder = { gc?: () => void };
const holder = globalThis as GcHolder;
const before = holder.gc;

afterEach(() => {
  if (before === undefined) delete holder.gc;
  else holder.gc = before;
});

/** An object only a WeakRef points to, made in its own frame so no local keeps it. */
function weaklyHeld(): WeakRef<object> {
  return new WeakRef({ payload: new Array(1000).fill(0) });
}

/** WeakRefs hold their targets to the end of the job that made them: collect after it. */
const nextJob = () => new Promise((resolve) => setImmediate(resolve));

describe('collectGarbage', () => {
  it('collects an object held only by a WeakRef', async () => {
    delete holder.gc;
    const ref = weaklyHeld();
    await nextJob();
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });

  it('leaves gc absent where it was absent, also for contexts made later', () => {
    delete holder.gc;
    collectGarbage();
    expect('gc' in globalThis).toBe(false);
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('uses a gc the process already has and leaves that same function in place', () => {
    // As in a process started with --expose-gc: that gc is called, and stays what globalThis.gc is.
    let calls = 0;
    const own = () => {
      calls += 1;
    };
    holder.gc = own;
    collectGarbage();
    expect(holder.gc).toBe(own);
    expect(calls).toBe(1);
  });

  it('never throws, not even when the gc it is given does', () => {
    holder.gc = () => {
      throw new Error('gc failed');
    };
    expect(() => collectGarbage()).not.toThrow();
  });
});
