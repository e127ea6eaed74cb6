import { workerData } from 'node:worker_threads';
import { serveTasks } from '@exhibit/core/worker-runtime';
import { heicDecodeTask, loadHeicDecode } from './heic.tasks.js';

/** A HEIC decoder thread (heic.pool.ts); dist/heic.worker.js in the Functions bundle. */
const decode = loadHeicDecode((workerData as { heicDecodePath: string }).heicDecodePath);
serveTasks({ 'heic-decode': heicDecodeTask(decode) });
