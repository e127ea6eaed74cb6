export type { SqlClient, OpenSqlClientOptions } from './sql-client.js';
export { openSqlClient } from './sql-client.js';
export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate.js';
export { PostgresIndex, createPostgresIndex } from './index-store.postgres.js';
export { PostgresAccessStore, createPostgresAccessStore } from './access-store.postgres.js';
export { countingSqlClient } from './sql-client.counting.js';
export { createWatchdogStore, type WatchdogStore, type StalledFile, type DoneThumbnail } from './index-store.watchdog.js';
export { PostgresReviewStore, createPostgresReviewStore, chooseBucket } from './review-store.postgres.js';
