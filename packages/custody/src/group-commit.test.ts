import { describe, expect, it } from 'vitest';
import { ExhibitError } from '@exhibit/core';
import { allAborted, GroupCommit, type Waiting } from './group-commit.js';

/** A write that records each group's items and waits for the test to let it finish. */
function heldWriter(options: { maxGroupEntries?: number; leave?: number; failGroup?: number } = {}) {
  const groups: number[][] = [];
  const releases: Array<() => void> = [];
  const commit = new GroupCommit<number>({
    maxGroupEntries: options.maxGroupEntries ?? 100,
    hasOwnWork: () => false,
    async write(_key, group: Waiting<number>[]) {
      const index = groups.push(group.map((w) => w.item)) - 1;
      await new Promise<void>((r) => releases.push(r));
      if (index === options.failGroup) throw new ExhibitError('storage-unavailable', 'injected');
      const left = options.leave && group.length > options.leave ? group.slice(options.leave) : [];
      for (const w of group) if (!left.includes(w)) w.resolve();
      return left;
    },
  });
  const releaseAll = async () => {
    for (let i = 0; i < 50; i++) {
      releases.splice(0).forEach((r) => r());
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  return { commit, groups, releaseAll };
}

describe('group commit', () => {
  it('gathers the entries that arrive while a write is in flight into the next write, in arrival order, per log', async () => {
    const w = heldWriter();
    const all = [1, 2, 3, 4, 5].map((n) => w.commit.submit('a', n, undefined));
    const other = w.commit.submit('b', 9, undefined);
    await w.releaseAll();
    await Promise.all([...all, other]);
    expect(w.groups).toEqual([[1], [9], [2, 3, 4, 5]]);
  });

  it('bounds a group by maxGroupEntries and writes what a write leaves next, before later arrivals', async () => {
    const w = heldWriter({ maxGroupEntries: 3, leave: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((n) => w.commit.submit('a', n, undefined));
    await w.releaseAll();
    await Promise.all(all);
    expect(w.groups).toEqual([[1], [2, 3, 4], [4, 5, 6], [6]]);
  });

  it("rejects every member of a group whose write fails, and only them", async () => {
    const w = heldWriter({ failGroup: 1 });
    const all = [1, 2, 3].map((n) => w.commit.submit('a', n, undefined));
    const settled = Promise.allSettled(all);
    await w.releaseAll();
    const later = w.commit.submit('a', 4, undefined);
    await w.releaseAll();
    expect((await settled).map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    await expect(later).resolves.toBeUndefined();
  });

  it('an entry whose caller gives up while it waits is rejected and never handed to a write', async () => {
    const w = heldWriter();
    const first = w.commit.submit('a', 1, undefined);
    const c = new AbortController();
    const gone = w.commit.submit('a', 2, c.signal);
    const stays = w.commit.submit('a', 3, undefined);
    c.abort(new Error('bye'));
    await expect(gone).rejects.toMatchObject({ code: 'aborted' });
    await w.releaseAll();
    await Promise.all([first, stays]);
    expect(w.groups).toEqual([[1], [3]]);
    await expect(w.commit.submit('a', 4, c.signal)).rejects.toMatchObject({ code: 'aborted' });
  });

  it("the group's signal aborts only when every member's has, never when one member has none", () => {
    const a = new AbortController();
    const b = new AbortController();
    const both = allAborted([a.signal, b.signal]);
    a.abort();
    expect(both.signal?.aborted).toBe(false);
    b.abort();
    expect(both.signal?.aborted).toBe(true);
    expect(allAborted([new AbortController().signal, undefined]).signal).toBeUndefined();
    const c = new AbortController();
    const d = allAborted([c.signal]);
    d.dispose();
    c.abort();
    expect(d.signal?.aborted).toBe(false);
  });
});
