import { createRequire } from 'node:module';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createMD5, createSHA1, createSHA256, type IHasher } from 'hash-wasm';
import type { Hashes } from '@exhibit/core';

/** hash-wasm's version, for the custody entry's tools (its saved states are loaded by the same library). */
export const HASH_WASM_VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)('hash-wasm/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/**
 * What wrote a saved state (migration 0220's `engine`): hash-wasm stamps each
 * state with its WebAssembly build and loads only its own, so a state saved by
 * any other version is not resumed (the hash starts over from byte 0).
 */
export const RESUMABLE_HASH_ENGINE = `hash-wasm@${HASH_WASM_VERSION}`;

/** The three saved states (hash-wasm `save()`), base64 for the index (migration 0220). */
export interface HashStates {
  md5: string;
  sha1: string;
  sha256: string;
}

/** Saved states this build cannot load (another hash-wasm build's, or damaged): the hash starts over, it never fails on them. */
export class HashStateLoadError extends Error {
  override readonly name = 'HashStateLoadError';
}

/**
 * Bytes hashed between two yields to the event loop: hash-wasm hashes
 * synchronously on the calling thread, the three together at ~200 MB/s on an
 * idle core here (MD5 622, SHA-1 940, SHA-256 441 MB/s), so a slice holds the
 * loop ~1.3 ms.
 */
export const RESUMABLE_HASH_SLICE_BYTES = 256 * 1024;

/**
 * MD5, SHA-1 and SHA-256 whose state can be saved after any byte and loaded
 * again, in another invocation or process (hash-wasm, WebAssembly): the hash
 * of an upload too large to read in one stage invocation is taken over
 * several (hash.stage.ts, "resumable"). Node's crypto cannot export a state,
 * and is 1.3-4x faster here, so it stays the engine below
 * LIMITS.resumableHashMinBytes. Digests equal node:crypto's for the same bytes
 * whatever the split points (resumable-hash.test.ts).
 *
 * It runs on the calling thread in slices of RESUMABLE_HASH_SLICE_BYTES with a
 * yield between them, so the event loop is never held longer than one slice
 * (not in the hash threads: those run an inline CommonJS source, which cannot
 * load hash-wasm from the Functions bundle; a worker entry of its own would).
 * One core then caps it at ~200 MB/s, about one blob stream's rate.
 */
export class ResumableMultiHasher {
  private constructor(
    private readonly md5: IHasher,
    private readonly sha1: IHasher,
    private readonly sha256: IHasher,
  ) {}

  /**
   * A fresh hasher, or one continuing from `states` (saved by `save` after the
   * same bytes, by the same RESUMABLE_HASH_ENGINE); throws on states it cannot
   * load (HashStateLoadError: another build's, or damaged).
   */
  static async open(states?: HashStates): Promise<ResumableMultiHasher> {
    const [md5, sha1, sha256] = await Promise.all([createMD5(), createSHA1(), createSHA256()]);
    md5.init();
    sha1.init();
    sha256.init();
    if (states) {
      try {
        md5.load(Buffer.from(states.md5, 'base64'));
        sha1.load(Buffer.from(states.sha1, 'base64'));
        sha256.load(Buffer.from(states.sha256, 'base64'));
      } catch (err) {
        throw new HashStateLoadError(err instanceof Error ? err.message : String(err));
      }
    }
    return new ResumableMultiHasher(md5, sha1, sha256);
  }

  /** Hashes `chunk`, yielding to the event loop between slices. */
  async update(chunk: Uint8Array): Promise<void> {
    for (let at = 0; at < chunk.length; at += RESUMABLE_HASH_SLICE_BYTES) {
      if (at > 0) await yieldToLoop();
      const slice = chunk.subarray(at, Math.min(chunk.length, at + RESUMABLE_HASH_SLICE_BYTES));
      this.md5.update(slice);
      this.sha1.update(slice);
      this.sha256.update(slice);
    }
  }

  /** The states after every byte given so far; hashing may go on. */
  save(): HashStates {
    const b64 = (h: IHasher) => Buffer.from(h.save()).toString('base64');
    return { md5: b64(this.md5), sha1: b64(this.sha1), sha256: b64(this.sha256) };
  }

  digest(): Hashes {
    return { md5: this.md5.digest('hex'), sha1: this.sha1.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}
