import { describe, expect, it } from 'vitest';
import { hashContinueKey, isHashContinuation } from './hash.stage.js';

describe('isHashContinuation', () => {
  const root = 'hash:case-1/ev-1/big.img';
  it('takes the keys this build sends', () => {
    expect(isHashContinuation(`${root}:${hashContinueKey(1024)}`)).toBe(true);
    expect(isHashContinuation(`${root}:${hashContinueKey(1024, 2)}`)).toBe(true);
  });
  it('old-build-redrive-continuation-not-taken-as-continuation — takes the :redrive-a-b keys an older build sent (in flight during a rolling deploy)', () => {
    expect(isHashContinuation(`${root}:hash-continue:1024:redrive-3-4`)).toBe(true);
    expect(isHashContinuation(`${root}:hash-continue:1024:restart-1:redrive-3-4`)).toBe(true);
  });
  it('refuses anything else', () => {
    expect(isHashContinuation(root)).toBe(false);
    expect(isHashContinuation(`${root}:hash-continue:x`)).toBe(false);
    expect(isHashContinuation(`${root}:hash-continue:1024:redrive-3`)).toBe(false);
    expect(isHashContinuation(`${root}:hash-continue:1024:redrive-3-4:next`)).toBe(false);
    expect(isHashContinuation(`${root}:segment-hash-wait:7`)).toBe(false);
  });
});
