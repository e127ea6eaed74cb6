import { describe, expect, it } from 'vitest';
import { diffRows, indexStatements, PGLITE_TRANSACTION_ROW, queueOperations, storageReads, type RequestRow } from './io-figures.summary.js';

const req = (kind: string, count: number, outBytes = 0): RequestRow => ({ kind, count, totalMs: count, inBytes: 0, outBytes });

describe('diffRows', () => {
  it('subtracts every numeric field of the matching row and drops rows that did not occur in between', () => {
    const before = [req('blob GET blob [evidence]', 2, 100), req('queue POST queue messages', 5)];
    const after = [req('blob GET blob [evidence]', 5, 400), req('queue POST queue messages', 5), req('queue DELETE queue message', 3)];
    expect(diffRows(before, after, (r) => r.kind)).toEqual([
      { kind: 'blob GET blob [evidence]', count: 3, totalMs: 3, inBytes: 0, outBytes: 300 },
      req('queue DELETE queue message', 3),
    ]);
  });
  it('takes the rows as they are without a snapshot before', () => {
    expect(diffRows(null, [req('x', 1)], (r) => r.kind)).toEqual([req('x', 1)]);
  });
});

describe('storageReads', () => {
  it('adds the bodies of blob GETs, ranged or not, by container, and ignores everything else', () => {
    const r = storageReads([
      req('blob GET blob [evidence]', 1, 1000),
      req('blob GET blob [evidence] ranged', 4, 600),
      req('blob GET blob [derived] ranged', 2, 50),
      req('blob GET container/queue comp=list', 1, 9999),
      req('blob PUT blob [derived]', 3, 0),
      req('queue GET queue messages (with messages)', 1, 5000),
    ]);
    expect(r).toEqual({ bytes: 1650, rangedBytes: 650, requests: 7, byContainer: { evidence: 1600, derived: 50 } });
  });
});

describe('queueOperations', () => {
  it('counts the work of messages apart from empty polls', () => {
    const ops = queueOperations([
      req('queue POST queue messages', 10),
      req('queue GET queue messages (with messages)', 8),
      req('queue GET queue messages (empty)', 300),
      req('queue DELETE queue message', 10),
      req('queue PUT queue message', 2),
      req('queue PUT container/queue', 4),
      req('blob GET blob [evidence]', 7),
    ]);
    expect(ops).toEqual({ sends: 10, receives: 8, deletes: 10, updates: 2, total: 30, emptyReceives: 300, other: 4 });
  });
});

describe('indexStatements', () => {
  it("counts a PGlite transaction's BEGIN and COMMIT, which its row stands for", () => {
    const rows = [
      { sql: 'SELECT 1', count: 5, totalMs: 1 },
      { sql: PGLITE_TRANSACTION_ROW, count: 3, totalMs: 1 },
    ];
    expect(indexStatements(rows)).toEqual({ statements: 11, transactions: 3 });
  });
  it('counts node-postgres BEGIN and COMMIT as the statements they are', () => {
    const rows = [
      { sql: 'BEGIN', count: 2, totalMs: 1 },
      { sql: 'INSERT INTO files …', count: 4, totalMs: 1 },
      { sql: 'COMMIT', count: 2, totalMs: 1 },
    ];
    expect(indexStatements(rows)).toEqual({ statements: 8, transactions: 2 });
  });
});
