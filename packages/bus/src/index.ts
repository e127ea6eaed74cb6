export * from './bus.storage-queue.js';
export * from './envelope.js';
