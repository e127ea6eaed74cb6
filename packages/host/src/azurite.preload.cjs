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
