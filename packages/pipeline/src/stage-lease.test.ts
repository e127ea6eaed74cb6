import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_ID_CHARS } from '@exhibit/core';
import { heldCopyId, legacyHeldCopy } from './stage-lease.js';

describe('held copy ids', () => {
  const id = 'unpack:f0123456789abcdef0123456789abcde:unpack-continue:40';

  it('derive from the original id, the holder and the generation: twins of one holder agree, another holder differs', () => {
    const a = heldCopyId(id, 'invocation-a', 1);
    expect(a).toMatch(/^unpack:f0123456789abcdef0123456789abcde:unpack-continue:40:held-[0-9a-f]{32}$/);
    expect(heldCopyId(id, 'invocation-a', 1)).toBe(a);
    expect(heldCopyId(id, 'invocation-b', 1)).not.toBe(a);
    expect(a).not.toBe(id);
  });

  // A copy that finds the same holder still running must not send its own id again: duplicate detection would drop it.
  it('held-copy-finding-the-same-holder-resent-its-own-id', () => {
    expect(heldCopyId(id, 'invocation-a', 2)).not.toBe(heldCopyId(id, 'invocation-a', 1));
  });

  // Before, a copy whose id would pass Service Bus's 128 characters was not sent (logged only): the work was left to
  // the holder alone. Now every copy id is bounded by construction, and still one per (original, holder, generation).
  it('held-copy-of-a-long-id-not-sent', () => {
    const long = `unpack:${'f'.repeat(MAX_MESSAGE_ID_CHARS - 7)}`;
    expect(long).toHaveLength(MAX_MESSAGE_ID_CHARS);
    const ids = new Set<string>();
    for (const holder of ['invocation-a', 'invocation-b'.repeat(20)]) {
      for (const generation of [1, 2, 999_999_999]) {
        const copy = heldCopyId(long, holder, generation);
        expect(copy.length).toBeLessThanOrEqual(MAX_MESSAGE_ID_CHARS);
        expect(heldCopyId(long, holder, generation)).toBe(copy);
        ids.add(copy);
      }
    }
    expect(ids.size).toBe(6);
    // Two long originals alike in their first 80 characters still get copies of their own.
    expect(heldCopyId(`${long.slice(0, -1)}e`, 'invocation-a', 1)).not.toBe(heldCopyId(long, 'invocation-a', 1));
  });

  it('read a copy the previous version named (`:held-<8 hex>-<n>`, no mark) back to its original id; no other id', () => {
    expect(legacyHeldCopy(`${id}:held-0123abcd-2`)).toEqual({ of: id, generation: 2 });
    expect(legacyHeldCopy(id)).toBeNull();
    expect(legacyHeldCopy(heldCopyId(id, 'invocation-a', 1))).toBeNull();
  });
});
