import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApi } from '../src/api.js';
import type { Api } from '../src/api.types.js';
import { openSqlClient, type SqlClient } from '../../index/src/sql-client.js';
import { createApiFixture, seedCase, type ApiFixture } from './api-fixture.js';

/**
 * The custody entries of a content thumbnail go to every evidence item holding the content. Past
 * one page of occurrences (500) the items are asked of the index: in one statement, not one
 * search per item of the case, since this runs on every view and every 304 of such a thumbnail.
 */
let f: ApiFixture;
let api: Api;
const counter = { statements: 0 };

/** The index's SQL client, counting the statements sent (a transaction counts its BEGIN and COMMIT). */
function counting(sql: SqlClient): SqlClient {
  return {
    dialect: sql.dialect,
    query: (q, p) => {
      counter.statements += 1;
      return sql.query(q, p);
    },
    exec: (q) => sql.exec(q),
    copyFrom: (a, b) => sql.copyFrom(a, b),
    transaction: (fn) =>
      sql.transaction((tx) => {
        counter.statements += 2;
        return fn(counting(tx));
      }),
    close: () => sql.close(),
  };
}

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'), { sql: counting(await openSqlClient({ kind: 'pglite', dataDir: 'memory://' })) });
  api = createApi(f.deps);
});

afterAll(async () => {
  await f?.dispose();
});

/** A case of `items` evidence items each holding the same photo once, and 600 more copies of it in the first. */
async function caseOf(caseId: string, items: number): Promise<string> {
  let sha = '';
  for (let i = 1; i <= items; i++) sha = (await seedCase(f, caseId, `EX${String(i).padStart(2, '0')}`)).photoSha256;
  await f.sql.query(
    `INSERT INTO files (file_id, case_id, evidence_id, depth, path, recorded_name, name, entry_kind, size, sha256, stage)
     SELECT $1 || '-copy' || lpad(g::text, 6, '0'), $1, 'EX01', 0, 'cache/' || lpad(g::text, 6, '0') || '.jpg', 'x', 'x', 'file', 10, $2, 'indexed'
       FROM generate_series(1, 600) g`,
    [caseId, sha],
  );
  await f.access.assign(caseId, 'ivy', { by: 'setup' });
  return sha;
}

async function statementsOfView(caseId: string, sha: string, ifNoneMatch?: string): Promise<{ status: number; statements: number; items: string[] }> {
  const before = f.custodyEvents.length;
  counter.statements = 0;
  const res = await api.handle({
    method: 'GET',
    path: `/cases/${caseId}/contents/${sha}/thumbnail`,
    query: new URLSearchParams(),
    headers: { authorization: `Bearer ${await f.token('ivy', ['investigator'])}`, ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}) },
  });
  if (res.body && typeof (res.body as NodeJS.ReadableStream).resume === 'function') for await (const _ of res.body as AsyncIterable<unknown>);
  const statements = counter.statements;
  const items = f.custodyEvents.slice(before).filter((e) => e.action === 'thumbnail-view' || e.action === 'read').map((e) => e.evidenceId).sort();
  return { status: res.status, statements, items };
}

describe('a content thumbnail held more than a page of times', () => {
  // Regression: past 500 occurrences the items holding the content were found by one search per
  // evidence item of the case (about five statements each: 302 statements for 60 items) on every
  // view and every 304 of the thumbnail.
  it('content-thumbnail-items-asked-one-search-per-item', async () => {
    const few = await caseOf('THUMB-3', 3);
    const many = await caseOf('THUMB-9', 9);
    for (const ifNoneMatch of [undefined, '*']) {
      const small = await statementsOfView('THUMB-3', few, ifNoneMatch);
      const large = await statementsOfView('THUMB-9', many, ifNoneMatch);
      expect([small.status, large.status]).toEqual(ifNoneMatch ? [304, 304] : [200, 200]);
      // Still recorded in every item holding it (the custody log writes are not index statements)…
      expect(small.items).toEqual(['EX01', 'EX02', 'EX03']);
      expect(large.items).toEqual(['EX01', 'EX02', 'EX03', 'EX04', 'EX05', 'EX06', 'EX07', 'EX08', 'EX09']);
      // …with as many index statements for nine items as for three.
      expect(large.statements).toBe(small.statements);
    }
  });
});
