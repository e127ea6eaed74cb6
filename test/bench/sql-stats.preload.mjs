/**
 * Loaded with NODE_OPTIONS="--import <this file>" by `npm run bench`: counts
 * the statements the host sends to the index (PGlite's query/exec/transaction,
 * or node-postgres's Client#query with --database-url) and the time each
 * holds the connection, and writes them on exit to
 * $EXHIBIT_BENCH_PROFILE_DIR/sql-stats-<pid>.json, and on SIGUSR2 to
 * mark-<n>-sql-stats-<pid>.json (n = 1, 2, …) so the bench can count between
 * two moments. A measuring aid only: it wraps the drivers in this process,
 * never the product code. Times include JavaScript that runs while a
 * statement awaits, so they are an upper bound of the statement's own cost;
 * the counts are exact.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.EXHIBIT_BENCH_PROFILE_DIR;
// Azurite's entry script, not any argument naming 'azurite' (a checkout path may: /work/wt/azurite-cost).
const isAzurite = /[\\/]azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(process.argv[1] ?? '');
if (dir && process.env.EXHIBIT_BENCH_IO_STATS === 'true' && !isAzurite) {
  const { PGlite } = await import('@electric-sql/pglite');
  const stats = new Map();
  const key = (sql) => String(sql).replace(/\s+/g, ' ').trim().slice(0, 160);
  const record = (sql, ms) => {
    const k = key(sql);
    const s = stats.get(k) ?? { count: 0, totalMs: 0 };
    s.count += 1;
    s.totalMs += ms;
    stats.set(k, s);
  };
  const timed = (fn) =>
    async function (sql, ...rest) {
      const started = performance.now();
      try {
        return await fn.call(this, sql, ...rest);
      } finally {
        record(sql, performance.now() - started);
      }
    };
  const proto = PGlite.prototype;
  const query = proto.query;
  const exec = proto.exec;
  const transaction = proto.transaction;
  proto.query = timed(query);
  proto.exec = timed(exec);
  proto.transaction = async function (fn) {
    const started = performance.now();
    try {
      return await transaction.call(this, (tx) =>
        fn(
          new Proxy(tx, {
            get(target, prop, receiver) {
              if (prop === 'query' || prop === 'exec') return timed((sql, ...rest) => target[prop](sql, ...rest));
              return Reflect.get(target, prop, receiver);
            },
          }),
        ),
      );
    } finally {
      record('(transaction: BEGIN … COMMIT, whole)', performance.now() - started);
    }
  };
  // node-postgres: Pool#query and PoolClient#query both end in Client#query, often with a callback.
  try {
    const pg = (await import('pg')).default;
    const clientQuery = pg.Client.prototype.query;
    pg.Client.prototype.query = function (config, ...rest) {
      const started = performance.now();
      const text = typeof config === 'string' ? config : config?.text;
      const callbackAt = rest.findIndex((a) => typeof a === 'function');
      if (callbackAt >= 0) {
        const callback = rest[callbackAt];
        rest[callbackAt] = function (...args) {
          record(text, performance.now() - started);
          return callback.apply(this, args);
        };
        return clientQuery.call(this, config, ...rest);
      }
      const result = clientQuery.call(this, config, ...rest);
      if (result && typeof result.then === 'function') {
        result.then(
          () => record(text, performance.now() - started),
          () => record(text, performance.now() - started),
        );
      } else {
        record(text, performance.now() - started);
      }
      return result;
    };
  } catch {
    // pg not installed: only PGlite is counted
  }
  const rows = () => [...stats].map(([sql, s]) => ({ sql, ...s })).sort((a, b) => b.totalMs - a.totalMs);
  let marks = 0;
  process.on('SIGUSR2', () => {
    marks += 1;
    writeFileSync(path.join(dir, `mark-${marks}-sql-stats-${process.pid}.json`), JSON.stringify(rows(), null, 2));
  });
  process.once('exit', () => {
    writeFileSync(path.join(dir, `sql-stats-${process.pid}.json`), JSON.stringify(rows(), null, 2));
  });
}
