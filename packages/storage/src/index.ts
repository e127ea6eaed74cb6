export * from './blob-store.azure.js';
export * from './errors.azure.js';
export * from './credential.azure.js';
export * from './append-log.azure.js';
export * from './member-bytes.memory.js';
