import exifr from 'exifr';
import { serveTasks } from '@exhibit/core/worker-runtime';

/**
 * A parser thread for the deadline pool's regression tests
 * (sandbox/stock-exifr.deadline.test.ts): what the host ran on its main
 * thread before parsers moved to threads (exifr 7.1.3 as shipped, on the
 * whole file in memory). Test only.
 */
serveTasks({
  /** The thumbnail fallback's old call: loops for ever on a zero-length box after ftyp. */
  async 'stock-exifr-orientation'(input) {
    const { bytes } = input as { bytes: ArrayBuffer };
    return { value: (await exifr.orientation(Buffer.from(bytes))) ?? null };
  },

  async echo(input) {
    return { value: input };
  },
});
