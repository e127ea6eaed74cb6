import type { QueueName } from '@exhibit/core';
import type { FunctionDef } from '@exhibit/runtime';
import type { QueueWorker } from '../queue-worker.js';
import { serveBlobCreated } from './blob-created.trigger.js';
import { serveDeadLetters } from './dead-letter.trigger.js';
import { serveHttp } from './http.trigger.js';
import type { LocalDef, LocalServing } from './local-trigger.js';
import { serveQueue } from './queue.trigger.js';
import { serveTimer } from './timer.trigger.js';

/**
 * Serves every function of the runtime's table with the local equivalent of
 * its Azure trigger, one file per kind, as functions/src/register.ts
 * registers the same table with Azure. Returns the blob watcher's pass.
 */
export async function serveFunctions(table: readonly FunctionDef[], s: LocalServing): Promise<{ scan: () => Promise<void> }> {
  const names = new Set<string>();
  const workers = new Map<QueueName, QueueWorker>();
  s.app.bus.onSent?.((queue) => workers.get(queue)?.nudge());
  let scan: (() => Promise<void>) | undefined;
  let http: LocalDef<'http'> | undefined;
  // The review app shares the API's server (same origin), so it is mounted once both are known.
  let site: LocalDef<'site'> | undefined;
  for (const def of table) {
    if (names.has(def.name)) throw new Error(`function ${def.name} is defined twice`);
    names.add(def.name);
    switch (def.trigger.kind) {
      case 'queue':
        workers.set(def.trigger.queue, serveQueue(def as LocalDef<'queue'>, s));
        break;
      case 'dead-letter':
        serveDeadLetters(def as LocalDef<'dead-letter'>, s);
        break;
      case 'blob-created':
        scan = await serveBlobCreated(def as LocalDef<'blob-created'>, s);
        break;
      case 'timer':
        serveTimer(def as LocalDef<'timer'>, s);
        break;
      case 'http':
        if (http) throw new Error(`function ${def.name}: the local host serves one http function`);
        http = def as LocalDef<'http'>;
        break;
      case 'site':
        if (site) throw new Error(`function ${def.name}: the local host serves one site function`);
        site = def as LocalDef<'site'>;
        break;
      default: {
        const unknown: never = def.trigger;
        throw new Error(`no local trigger for ${JSON.stringify(unknown)}`);
      }
    }
  }
  if (!scan) throw new Error('function table has no blob-created function');
  if (!http) throw new Error('function table has no http function');
  await serveHttp(http, site, s);
  return { scan };
}
