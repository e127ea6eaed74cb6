import type { SqlClient } from './sql-client.js';

/**
 * A SqlClient that counts the statements it sends, a transaction's BEGIN and
 * COMMIT included (as the benchmark's --io-stats counts them): tests hold the
 * pipeline's hot paths to their cost with it.
 */
export function countingSqlClient(sql: SqlClient, counter: { statements: number }): SqlClient {
  return {
    dialect: sql.dialect,
    query(text, params) {
      counter.statements += 1;
      return sql.query(text, params);
    },
    exec(text) {
      counter.statements += 1;
      return sql.exec(text);
    },
    copyFrom(copySql, data) {
      counter.statements += 1;
      return sql.copyFrom(copySql, data);
    },
    transaction(fn) {
      counter.statements += 2;
      return sql.transaction((tx) => fn(countingSqlClient(tx, counter)));
    },
    close: () => sql.close(),
  };
}
