import { serveTasks, type TaskContext, type TaskHandler } from '@exhibit/core/worker-runtime';
import type { ArchiveRequest } from '../archive.tasks.js';
import { TAR_TASKS } from '../tar.parser.js';
import { ZIP_TASKS } from '../zip.parser.js';

/**
 * An archive parser thread for tests: the real ZIP and TAR tasks, plus a
 * parser gone wrong when it reaches an entry with a trigger name. Before
 * handing over an entry recorded as `hang-here` it loops for ever (what a
 * parser stuck on a hostile structure does to its thread); before one
 * recorded as `crash-here` the thread dies (what its heap limit does to a
 * parser that grows without bound). Test only: the production worker is
 * archive.worker.ts, which has no such names.
 */

function misbehaving(context: TaskContext): TaskContext {
  return {
    request(request, transfer) {
      const r = request as ArchiveRequest;
      if (r.t === 'entry' && r.entry.recordedName === 'hang-here') for (;;);
      if (r.t === 'entry' && r.entry.recordedName === 'crash-here') process.exit(70);
      return context.request(request, transfer);
    },
  };
}

const wrap = (handler: TaskHandler): TaskHandler => (input, context) => handler(input, misbehaving(context));

serveTasks({
  'zip-open': wrap(ZIP_TASKS['zip-open']),
  'zip-list': wrap(ZIP_TASKS['zip-list']),
  'zip-member': wrap(ZIP_TASKS['zip-member']),
  'tar-list': wrap(TAR_TASKS['tar-list']),
});
