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
 * None today. `--max-semi-space-size=4` (a smaller main-thread young generation)
 * took the idle host from 410 to 357 MiB RSS, but garbage collection is already
 * the host's largest CPU overhead per member (docs/benchmarks.md, "Where host CPU
 * goes"; a larger young generation measured 419 -> 376 ms CPU per member) and the
 * photo bench's host CPU per file rose 349 -> 372 ms with it, so it is left out
 * until an A/B on a quiet machine shows it costs nothing. The list stays so the
 * start script and the test launcher keep one source (the unit test).
 */
export const HOST_NODE_FLAGS = [] as const;
