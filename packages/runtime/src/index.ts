export * from './app.js';
export * from './function-table.js';
export * from './function-table.types.js';
export * from './handlers.js';
export * from './watchdog.js';
export * from './review-app.site.js';
