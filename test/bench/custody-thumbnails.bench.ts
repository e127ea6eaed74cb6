/**
 * Thumbnail views a second through the API's thumbnail route with the real
 * custody log (issue 13): every view is appended to the evidence item's log
 * before the bytes are sent, so a gallery of one item goes through one log.
 * Not a test: prints figures, asserts nothing about time.
 *
 *   npx tsx test/bench/custody-thumbnails.bench.ts [--database-url postgres://postgres@127.0.0.1:5432/test]
 *                                                 [--concurrency 64] [--requests 2000] [--rounds 2] [--custody log|none]
 *
 * Azurite is started on free ports in a throw-away folder. The index is PGlite
 * in memory, or with --database-url a fresh database on that server (dropped
 * afterwards). Requests go through `api.handle` (routing, token check, access
 * rules, index reads, blob read, custody write), each answer's body read to
 * the end. After each round the case's custody log is verified from storage
 * (`CustodyAudit.verify`, as `exhibit custody verify` does) and timed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { azuriteConnectionString } from '@exhibit/core';
import { segmentName } from '@exhibit/custody';
import { createAzureAppendLog } from '@exhibit/storage';
import { openSqlClient, type SqlClient } from '@exhibit/index';
import { freePorts, startAzurite } from '../../packages/host/src/azurite.process.js';
import { createApi } from '../../packages/api/src/api.js';
import type { ApiRequest } from '../../packages/api/src/api.types.js';
import { createApiFixture, seedCase } from '../../packages/api/test/api-fixture.js';

const { values: args } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    concurrency: { type: 'string', default: '64' },
    requests: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '2' },
    // 'none': the same route with a custody recorder that records nothing, for the route's own ceiling.
    custody: { type: 'string', default: 'log' },
  },
});
const CONCURRENCY = Number(args.concurrency);
const REQUESTS = Number(args.requests);
const ROUNDS = Number(args.rounds);
const say = (line = '') => process.stdout.write(`${line}\n`);
const loadavg = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function serverDatabase(baseUrl: string): Promise<{ sql: SqlClient; drop: () => Promise<void> }> {
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: baseUrl });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  const db = `exhibit_custody_bench_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${db}`);
  const url = new URL(baseUrl);
  url.pathname = `/${db}`;
  const sql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
  return { sql, drop: () => admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function main(): Promise<void> {
  const location = await mkdtemp(path.join(os.tmpdir(), 'exhibit-custody-bench-'));
  const [blobPort, queuePort] = (await freePorts(2)) as [number, number];
  const azurite = await startAzurite({ location, blobPort, queuePort });
  const server = args['database-url'] ? await serverDatabase(args['database-url']) : null;
  try {
    const connectionString = azuriteConnectionString('127.0.0.1', blobPort, queuePort);
    const f = await createApiFixture(connectionString, server ? { sql: server.sql } : {});
    const seed = await seedCase(f, 'BENCH-1');
    await f.access.assign(seed.caseId, 'ivy', { by: 'setup' });
    const token = await f.token('ivy', ['investigator']);
    const withCustody = args.custody !== 'none';
    const api = createApi({ ...f.deps, custody: withCustody ? f.custodyLog : { record: async () => undefined } });
    const appendLog = createAzureAppendLog({ connectionString, container: f.custodyContainer });
    const request: ApiRequest = {
      method: 'GET',
      path: `/cases/${seed.caseId}/files/${seed.photoFileId}/thumbnail`,
      query: new URLSearchParams(),
      headers: { authorization: `Bearer ${token}` },
    };
    say(`index: ${server ? 'PostgreSQL server' : 'PGlite (memory)'}; custody: ${withCustody ? 'the real log' : 'NONE (route ceiling)'}; ${CONCURRENCY} requests at a time, ${REQUESTS} per round, one evidence item (one custody log)`);
    // Warm-up: the log's first entries (segment start), the key registration, connections.
    for (let i = 0; i < 20; i++) await drain(await api.handle(request));
    for (let round = 1; round <= ROUNDS; round++) {
      const before = loadavg();
      const latencies: number[] = [];
      let next = 0;
      let failures = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < REQUESTS) {
            next++;
            const t0 = performance.now();
            const res = await api.handle(request);
            await drain(res);
            if (res.status !== 200) failures++;
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      if (!withCustody) {
        say(`round ${round}: ${(REQUESTS / seconds).toFixed(1)} views/s, p50 ${percentile(latencies, 50).toFixed(0)} ms / p95 ${percentile(latencies, 95).toFixed(0)} ms, ${failures} not 200; load before ${before}, after ${loadavg()}`);
        continue;
      }
      const v0 = performance.now();
      const verification = await f.custodyLog.verify({ caseId: seed.caseId, checkEvidence: false });
      const verifyMs = performance.now() - v0;
      const item = verification.items[0];
      say(
        `round ${round}: ${(REQUESTS / seconds).toFixed(1)} views/s (${REQUESTS} in ${seconds.toFixed(2)} s), latency p50 ${percentile(latencies, 50).toFixed(0)} ms / p95 ${percentile(latencies, 95).toFixed(0)} ms, ` +
          `${failures} answers other than 200; load before ${before}, after ${loadavg()}`,
      );
      say(
        `  append blocks in the log: ${(await appendLog.head(segmentName(seed.caseId, seed.evidenceId, 0)))?.blockCount}; custody verify: ok ${verification.ok}, ${item?.verifiedEntries} entries verified (index ${item?.indexEntries}), firstBreak ${JSON.stringify(item?.firstBreak ?? null)}, ${verifyMs.toFixed(0)} ms`,
      );
    }
    await f.dispose();
  } finally {
    await azurite.stop();
    await server?.drop();
    await rm(location, { recursive: true, force: true });
  }
}

async function drain(res: { body?: unknown }): Promise<void> {
  const body = res.body as NodeJS.ReadableStream | undefined;
  if (body && typeof body.resume === 'function') {
    for await (const _chunk of body as AsyncIterable<Buffer>) {
      // read to the end, as a client would
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
