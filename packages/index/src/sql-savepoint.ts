import type { SqlClient } from './sql-client.js';

let savepointSeq = 0;

/**
 * A transaction inside a transaction: a savepoint on the same connection, so
 * a failure the caller catches rolls back only the inner work.
 */
export async function inSavepoint<R>(tx: SqlClient, fn: (tx: SqlClient) => Promise<R>): Promise<R> {
  const name = `exhibit_sp_${++savepointSeq}`;
  await tx.query(`SAVEPOINT ${name}`);
  try {
    const result = await fn(tx);
    await tx.query(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await tx.query(`ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
}
