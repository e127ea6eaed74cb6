import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_ID_CHARS } from '@exhibit/core';
import { heldCopyId, heldGeneration, originalMessageId } from './stage-lease.js';

describe('held copy ids', () => {
  const id = 'unpack:f0123456789abcdef0123456789abcde:unpack-continue:40';

  it('derive from the original id and the holder: twins of one holder agree, another holder differs', () => {
    const a = heldCopyId(id, 'invocation-a')!;
    expect(a).toMatch(/^unpack:f0123456789abcdef0123456789abcde:unpack-continue:40:held-[0-9a-f]{8}-1$/);
    expect(heldCopyId(id, 'invocation-a')).toBe(a);
    expect(heldCopyId(id, 'invocation-b')).not.toBe(a);
    // The stage sees the original id: its continuation key is read from the end of it.
    expect(originalMessageId(a)).toBe(id);
    expect(heldGeneration(a)).toBe(1);
    expect(originalMessageId(id)).toBe(id);
    expect(heldGeneration(id)).toBe(0);
  });

  // A copy that finds the same holder still running must not send its own id again: duplicate detection would drop it.
  it('held-copy-finding-the-same-holder-resent-its-own-id', () => {
    const copy = heldCopyId(id, 'invocation-a')!;
    const again = heldCopyId(copy, 'invocation-a')!;
    expect(again).not.toBe(copy);
    expect(heldGeneration(again)).toBe(2);
    expect(originalMessageId(again)).toBe(id);
  });

  it('answers null rather than an id Service Bus would refuse', () => {
    const long = `unpack:${'f'.repeat(MAX_MESSAGE_ID_CHARS - 10)}`;
    expect(heldCopyId(long, 'invocation-a')).toBeNull();
  });
});
