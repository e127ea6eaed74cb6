export * from './azurite.process.js';
export * from './data-folder.lock.js';
export * from './local-host.js';
export * from './queue-worker.js';
export * from './samples.ingest.js';
