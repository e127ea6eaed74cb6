export * from './bus.storage-queue.js';
export * from './envelope.js';
export * from './bus.service-bus.js';
