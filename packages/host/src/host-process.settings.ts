/**
 * glibc malloc settings the local host runs with (`npm start` sets them in its
 * script, test/support/host-process.ts for the end-to-end tests and benches).
 * glibc reads them once, when the process starts, so they cannot be set from
 * inside the host; other C libraries (macOS) ignore them.
 *
 * Why (measured, docs/operations.md "Memory"): every thread that mallocs
 * (libvips' workers, V8's compiler and GC threads, the parser threads) gets an
 * arena of its own, up to 8 per core, and freed memory stays in it; and after
 * the first large buffer is freed glibc raises its mmap threshold, so later
 * 128 KiB-1 MiB buffers (photos, disk cache blocks) come from the arenas and
 * fragment them. Two arenas and a fixed 128 KiB mmap/trim threshold give that
 * memory back: bench:disk's host peak 718 -> 645 MiB, no slower.
 */
export const HOST_MALLOC_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
} as const;

/**
 * Node flags of the host process (`npm start` and test/support/host-process.ts).
 * V8 grows the main thread's young generation up to two 16 MiB semi-spaces and
 * keeps them while the host idles; at 4 MiB the idle host measured 410 -> 357 MiB
 * RSS. The flag holds for the threads without a young-generation limit of their
 * own too (hashing, HEIC decoding, tsx's loader threads).
 */
export const HOST_NODE_FLAGS = ['--max-semi-space-size=4'] as const;
