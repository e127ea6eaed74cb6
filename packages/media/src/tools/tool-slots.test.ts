import { describe, expect, it } from 'vitest';
import { ToolSlots } from './tool-slots.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('ToolSlots', () => {
  it('lets only as many holders in as it has slots, then hands the slot on in order', async () => {
    const slots = new ToolSlots(1);
    const order: string[] = [];
    const releaseA = await slots.acquire();
    const b = slots.acquire().then((release) => (order.push('b'), release));
    const c = slots.acquire().then((release) => (order.push('c'), release));
    await tick();
    expect(order).toEqual([]);
    releaseA();
    const releaseB = await b;
    await tick();
    expect(order).toEqual(['b']);
    releaseB();
    releaseB(); // twice is harmless: it must not free a second slot
    (await c)();
    expect(order).toEqual(['b', 'c']);
    const d = await slots.acquire();
    let eHeld = false;
    const e = slots.acquire().then((r) => ((eHeld = true), r));
    await tick();
    expect(eHeld).toBe(false);
    d();
    (await e)();
  });

  it('an aborted wait leaves the queue and does not take the slot', async () => {
    const slots = new ToolSlots(1);
    const release = await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire({ abortSignal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    release();
    const again = await slots.acquire();
    again();
  });
});
