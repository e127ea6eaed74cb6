'use strict';
/*
 * Loaded with `node --require` into the Azurite process the local host starts
 * (azurite.process.ts). Plain CommonJS because it runs before Azurite's own
 * entry point, without a TypeScript loader.
 *
 * The host opens an IPC channel to Azurite only to tie their lives together:
 * the channel closes when the host ends, however it ends (a clean stop, a
 * crash, SIGKILL), and then Azurite stops too. It stops through its own
 * SIGTERM handler, which closes the servers and writes the metadata Azurite
 * keeps in memory, so nothing is lost when the host was killed hard.
 */

/*
 * Azurite keeps its metadata (blobs, blocks, queue messages) in LokiJS databases
 * that it saves every 5 s, so a hard kill (kill -9, the OOM killer) loses up to
 * 5 s of writes: queue messages, derived blobs, custody log appends. Saving
 * every AUTOSAVE_MS shrinks that window; LokiJS saves only when something
 * changed, and writes a temporary file that it renames, so a kill during a save
 * keeps the previous one. The host's watchdog and reconciliation make up for
 * what the smaller window still loses (docs/operations.md, "When Azurite dies").
 */
const AUTOSAVE_MS = 1000;
const Module = require('node:module');
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  const loaded = originalLoad.call(this, request, parent, isMain);
  if (request !== 'lokijs' || typeof loaded !== 'function' || loaded.__exhibitAutosave) return loaded;
  class FrequentSaveLoki extends loaded {
    constructor(filename, options) {
      const tuned = options && options.autosave
        ? Object.assign({}, options, { autosaveInterval: Math.min(options.autosaveInterval || AUTOSAVE_MS, AUTOSAVE_MS) })
        : options;
      super(filename, tuned);
    }
  }
  FrequentSaveLoki.__exhibitAutosave = true;
  return FrequentSaveLoki;
};

let stopping = false;

function onSignal(signal) {
  // A repeated signal must not cut short the shutdown the first one started.
  if (stopping) return;
  stopping = true;
  // Azurite's handler listens for 'message', which keeps the channel (and so the
  // process) alive; drop it so Azurite exits once its servers are closed.
  if (process.connected) process.disconnect();
  // Azurite registers its own handler only once its servers listen. Before that
  // there is nothing to save, and this listener must not keep it from stopping.
  if (process.listenerCount(signal) === 1) process.exit(0);
}

process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('disconnect', () => {
  if (!stopping) process.kill(process.pid, 'SIGTERM');
});
