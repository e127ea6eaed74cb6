/**
 * Per-file I/O figures from the counters of the measuring preloads
 * (azurite-requests.preload.mjs, sql-stats.preload.mjs): bytes read from
 * storage, queue operations, index statements. The preloads count from their
 * process's start; the bench asks them for snapshots at upload start and at
 * completion and takes the difference, so start-up (migrations, queue
 * creation) and the check afterwards are left out. Pure, for unit tests.
 *
 * Names come from the request kinds, not from a list of the pipeline's
 * stages or queues: a renamed or merged stage changes nothing here.
 */

export interface CountedRow {
  count: number;
  totalMs: number;
}

/**
 * `after − before`, row by row (matched by `keyOf`), for every numeric
 * field; rows that did not occur in between are dropped.
 */
export function diffRows<T extends CountedRow>(before: readonly T[] | null, after: readonly T[], keyOf: (row: T) => string): T[] {
  const earlier = new Map((before ?? []).map((r) => [keyOf(r), r]));
  const out: T[] = [];
  for (const row of after) {
    const was = earlier.get(keyOf(row)) as Record<string, unknown> | undefined;
    const diff: Record<string, unknown> = { ...(row as unknown as Record<string, unknown>) };
    if (was) {
      for (const [field, value] of Object.entries(row)) {
        if (typeof value === 'number' && typeof was[field] === 'number') diff[field] = value - was[field];
      }
    }
    if ((diff.count as number) > 0) out.push(diff as unknown as T);
  }
  return out;
}

/** An Azurite request kind as the bench names it: `<blob|queue> <METHOD> <operation>[ [container]][ ranged][ (empty)|(with messages)]`. */
export interface RequestRow extends CountedRow {
  kind: string;
  inBytes: number;
  outBytes: number;
}

export interface StorageReads {
  /** Body bytes of every blob GET (the data reads). */
  bytes: number;
  /** Of which answered to a ranged GET. */
  rangedBytes: number;
  requests: number;
  /** Bytes read by container: tells evidence reads from derived-item reads. */
  byContainer: Record<string, number>;
}

const BLOB_GET = /^blob GET blob(?: \[([^\]]+)\])?( ranged)?$/;

export function storageReads(rows: readonly RequestRow[]): StorageReads {
  const reads: StorageReads = { bytes: 0, rangedBytes: 0, requests: 0, byContainer: {} };
  for (const row of rows) {
    const match = BLOB_GET.exec(row.kind);
    if (!match) continue;
    reads.bytes += row.outBytes;
    if (match[2]) reads.rangedBytes += row.outBytes;
    reads.requests += row.count;
    const container = match[1] ?? '(none)';
    reads.byContainer[container] = (reads.byContainer[container] ?? 0) + row.outBytes;
  }
  return reads;
}

export interface QueueOperations {
  sends: number;
  /** Receives that returned at least one message. */
  receives: number;
  deletes: number;
  /** Visibility updates (lease renewals, delayed retries). */
  updates: number;
  /** sends + receives + deletes + updates: the work messages cost. */
  total: number;
  /** Receives that found nothing: polling, which depends on the poll interval and the run's length, not on the files. */
  emptyReceives: number;
  /** Other queue requests (create, metadata, peek…). */
  other: number;
}

export function queueOperations(rows: readonly RequestRow[]): QueueOperations {
  const ops: QueueOperations = { sends: 0, receives: 0, deletes: 0, updates: 0, total: 0, emptyReceives: 0, other: 0 };
  for (const row of rows) {
    if (!row.kind.startsWith('queue ')) continue;
    const op = row.kind.slice('queue '.length);
    if (op === 'POST queue messages') ops.sends += row.count;
    else if (op === 'GET queue messages (with messages)') ops.receives += row.count;
    else if (op === 'GET queue messages (empty)') ops.emptyReceives += row.count;
    else if (op === 'DELETE queue message') ops.deletes += row.count;
    else if (op === 'PUT queue message') ops.updates += row.count;
    else ops.other += row.count;
  }
  ops.total = ops.sends + ops.receives + ops.deletes + ops.updates;
  return ops;
}

export interface StatementRow extends CountedRow {
  sql: string;
}

/** The row sql-stats.preload.mjs writes for a whole PGlite transaction, whose BEGIN and COMMIT it does not see. */
export const PGLITE_TRANSACTION_ROW = '(transaction: BEGIN … COMMIT, whole)';

export interface IndexStatements {
  /** Statements sent, a transaction's BEGIN and COMMIT included (as countingSqlClient counts them). */
  statements: number;
  transactions: number;
}

export function indexStatements(rows: readonly StatementRow[]): IndexStatements {
  let statements = 0;
  let transactions = 0;
  for (const row of rows) {
    if (row.sql === PGLITE_TRANSACTION_ROW) {
      // PGlite sends BEGIN and COMMIT itself, past the counted query().
      statements += 2 * row.count;
      transactions += row.count;
    } else {
      statements += row.count;
      // node-postgres: BEGIN goes through query() and is counted as a row of its own.
      if (/^BEGIN\b/i.test(row.sql)) transactions += row.count;
    }
  }
  return { statements, transactions };
}
