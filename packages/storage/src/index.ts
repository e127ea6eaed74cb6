export * from './blob-store.azure.js';
export * from './errors.azure.js';
