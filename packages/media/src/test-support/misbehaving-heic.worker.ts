import { workerData } from 'node:worker_threads';
import { serveTasks } from '@exhibit/core/worker-runtime';
import { heicDecodeTask, loadHeicDecode, type HeicDecodeInput } from '../thumbnail/heic.tasks.js';

/**
 * A HEIC decoder thread for tests: the real decode, plus a decoder gone wrong
 * on files whose first bytes are a trigger. On `hang` it loops for ever (what
 * libheif stuck on a crafted structure does to its thread); on `crash` the
 * thread dies (what a wasm abort or an exhausted heap does). Test only: the
 * production worker is thumbnail/heic.worker.ts, which has no triggers.
 */
const decode = heicDecodeTask(loadHeicDecode((workerData as { heicDecodePath: string }).heicDecodePath));

serveTasks({
  'heic-decode'(input, context) {
    const { bytes } = input as HeicDecodeInput;
    const head = Buffer.from(bytes, 0, Math.min(5, bytes.byteLength)).toString('latin1');
    if (head.startsWith('hang')) for (;;);
    if (head === 'crash') process.exit(70);
    return decode(input, context);
  },
});
