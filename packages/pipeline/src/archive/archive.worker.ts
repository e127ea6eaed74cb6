import { serveTasks } from '@exhibit/core/worker-runtime';
import { TAR_TASKS } from './tar.parser.js';
import { ZIP_TASKS } from './zip.parser.js';

/**
 * The archive parser thread (started by archive.pool.ts): yauzl, tar-stream,
 * inflate, gunzip and CRC-32 checks of ZIP, TAR and TAR.GZ archives run here,
 * never on the main thread (zip.parser.ts, tar.parser.ts; the protocol is
 * archive.tasks.ts).
 */
serveTasks({ ...ZIP_TASKS, ...TAR_TASKS });
