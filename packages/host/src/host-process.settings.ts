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
 * fragment them. Two arenas and a fixed mmap/trim threshold give that
 * memory back: bench:disk's host peak 718 -> 645 MiB, no slower.
 *
 * The mmap threshold is 32 KiB, not glibc's 128 KiB: node reads every socket
 * in 64-KiB buffers (the upload's single read, the parser threads' ranged
 * reads, analyse's reads), and V8 frees them only when it collects, after up
 * to 64 MB of them have piled up. From the main arena, which glibc gives back
 * only from its top, each such pile stayed resident behind the longer-lived
 * buffers allocated meanwhile, so the host grew all run (397 -> 563 MiB over
 * the 4-GiB disk bench); mmap'd, each is returned when collected
 * (docs/benchmarks.md, "The host's main arena"; the test
 * main-arena-keeps-collected-stream-chunks). The price: each such chunk is
 * an mmap, munmap and fresh pages, ~50 µs of CPU against ~10 from the arena,
 * about 0.7-0.8 s per GiB of chunks read (docs/benchmarks.md, same section).
 *
 * 32 KiB and not 64: a 64-KiB Buffer is a malloc of 64 KiB plus glibc's
 * header, so 65536 mmaps it too and gave the same arena result and CPU per
 * chunk; 32768 stays because it is the value the bench runs measured, and
 * 65536 (which would keep 32-64 KiB allocations in the arena) waits for an A/B.
 *
 * Azurite and the index process inherit these from the host's environment
 * (they are spawned without an env of their own), on purpose: Azurite reads
 * every blob byte through the same 64-KiB socket buffers (docs/operations.md,
 * "Memory").
 */
export const HOST_MALLOC_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '32768',
  MALLOC_TRIM_THRESHOLD_: '131072',
} as const;

/**
 * Node flags of the host process (`npm start` and test/support/host-process.ts).
 *
 * `--max-semi-space-size=8`: V8's young generation of the main thread, and of
 * tsx's module-loader thread when the host runs from sources, at most 2 × 8 MiB
 * instead of 2 × 16. Both grow to the full 32 MiB during the migrations and
 * stay there all run (docs/benchmarks.md, "Memory of the local host",
 * 2026-12-06: sampled with `--memory-breakdown`); capped, bench:disk's host peak
 * was 610 MiB against 640, host CPU 141 s both ways, wall time 463 against 457 s
 * (one run each, load 13-25); against main at load 10-15, 608 against 651 MiB
 * (428 against 486 with the index on a server), idle 355-374 against 406 MiB. Parser threads set their own young generation
 * (LIMITS.parseThreadYoungHeapMb) and are not affected. 4 (2 × 4 MiB) saved
 * more at idle but raised the photo bench's host CPU per file 349 -> 372 ms in
 * the one pair measured, so the gentler 8; garbage collection is the host's
 * largest CPU overhead per member ("Where host CPU goes"), so recheck on a quiet machine.
 */
export const HOST_NODE_FLAGS = ['--max-semi-space-size=8'] as const;
