import { execFile } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRootLogger, ExhibitError } from '@exhibit/core';
import { openPgliteDatabase } from '../src/sql-client.js';
import { pgliteMemoryBytes } from '../src/pglite-memory.js';
import { openPgClient } from '../src/sql-client.pg.js';
import { IDENTIFY_REQUEST_CODE, startWireServer, WIRE_LIMITS, type WireServer } from '../src/pglite-wire.server.js';

const PASSWORD = 'per-start-secret';
const PG_ISREADY = ['/usr/bin/pg_isready', '/usr/local/bin/pg_isready'].find((p) => existsSync(p));

let db: PGlite;
let server: WireServer;
const fatal: unknown[] = [];
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await openPgliteDatabase('memory://');
  await db.exec('CREATE TABLE items (id int PRIMARY KEY, name text)');
  server = await startWireServer({ db, password: PASSWORD, instanceId: 'instance-1', onFatal: (err) => fatal.push(err), limits: { copyBytes: 64 * 1024 } });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  await until(() => !server.stats().active);
  await db.exec('TRUNCATE items');
});

afterAll(async () => {
  await server.close();
  await db.close();
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function connect(password: string | undefined = PASSWORD): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'exhibit', database: 'postgres', ...(password !== undefined ? { password } : {}) });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

/** The socket under a pg client, to send what pg itself never would. */
function socketOf(client: pg.Client): net.Socket {
  return (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
}

/** A raw connection and everything it receives until it closes. */
function raw(): { socket: net.Socket; received: () => Buffer; closed: Promise<void> } {
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

function startupPacket(params: Record<string, string>): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.writeUInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

describe('PGlite wire server: authentication', () => {
  it('serves a client that authenticates with SCRAM-SHA-256: simple and parameterised queries', async () => {
    const c = await connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.query('INSERT INTO items VALUES ($1, $2)', [1, 'a']);
    expect((await c.query('SELECT name FROM items WHERE id = $1', [1])).rows).toEqual([{ name: 'a' }]);
  });

  it('refuses a wrong password with 28P01 before anything reaches PGlite', async () => {
    const before = server.stats().sessions;
    const err = await connect('wrong').then(
      () => null,
      (e: unknown) => e as { code?: string; message: string },
    );
    expect(err?.code).toBe('28P01');
    expect(server.stats().sessions).toBe(before);
  });

  it('auth-forwarded-to-pglite: a client without a password gets no session', async () => {
    const err = await connect('').then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(server.stats().active).toBe(false);
  });

  it('answers SSLRequest with N, then continues with the startup on the same connection', async () => {
    const r = raw();
    const ssl = Buffer.alloc(8);
    ssl.writeUInt32BE(8, 0);
    ssl.writeUInt32BE(80877103, 4);
    r.socket.write(ssl);
    await until(() => r.received().length >= 1);
    expect(r.received().toString('latin1')).toBe('N');
    r.socket.write(startupPacket({ user: 'exhibit' }));
    // AuthenticationSASL naming SCRAM-SHA-256.
    await until(() => r.received().includes('SCRAM-SHA-256'));
    expect(r.received()[1]).toBe('R'.charCodeAt(0));
    r.socket.destroy();
  });

  it('answers the identify request with its instance id', async () => {
    const r = raw();
    const req = Buffer.alloc(8);
    req.writeUInt32BE(8, 0);
    req.writeUInt32BE(IDENTIFY_REQUEST_CODE, 4);
    r.socket.write(req);
    await r.closed;
    expect(r.received().toString()).toBe('instance-1');
  });

  it.skipIf(!PG_ISREADY)('pg-isready-wedged-the-index: pg_isready while a session is in a transaction; the session goes on, and the next', async () => {
    const a = await connect();
    await a.query('BEGIN');
    await a.query('INSERT INTO items VALUES (2, $1)', ['b']);
    const { stdout } = await promisify(execFile)(PG_ISREADY!, ['-h', '127.0.0.1', '-p', String(server.port)]).catch((e: { stdout: string }) => e);
    expect(stdout).toContain('accepting connections');
    await a.query('COMMIT');
    await a.end();
    const b = await connect();
    expect((await b.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 1 }]);
  });

  it('a connection that never authenticates does not hold up authenticated sessions', async () => {
    const r = raw();
    r.socket.write(startupPacket({ user: 'exhibit' }));
    await until(() => r.received().length > 0);
    const c = await connect();
    expect((await c.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    r.socket.destroy();
  });
});

/** Reads whole backend messages from a raw socket. */
function messageReader(socket: net.Socket): () => Promise<{ type: string; body: Buffer }> {
  let buf = Buffer.alloc(0);
  const waiters: (() => void)[] = [];
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    waiters.splice(0).forEach((w) => w());
  });
  return async () => {
    while (buf.length < 5 || buf.length < 1 + buf.readUInt32BE(1)) await new Promise<void>((r) => waiters.push(r));
    const len = buf.readUInt32BE(1);
    const out = { type: String.fromCharCode(buf[0]!), body: buf.subarray(5, 1 + len) };
    buf = buf.subarray(1 + len);
    return out;
  };
}

/** SCRAM-SHA-256 by hand, with the client-final's channel binding `c=` given: the reply to the final message. */
async function scramWithBinding(binding: string): Promise<{ type: string; body: Buffer }> {
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  socket.on('error', () => undefined);
  const next = messageReader(socket);
  const frame = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeUInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  try {
    socket.write(startupPacket({ user: 'exhibit', database: 'postgres' }));
    await next();
    const clientFirstBare = 'n=,r=clientnonce';
    const first = Buffer.from(`n,,${clientFirstBare}`);
    const len = Buffer.alloc(4);
    len.writeInt32BE(first.length);
    socket.write(frame('p', Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), len, first])));
    const serverFirst = (await next()).body.subarray(4).toString();
    const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as const));
    const salted = pbkdf2Sync(PASSWORD, Buffer.from(attrs.get('s')!, 'base64'), Number(attrs.get('i')), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${binding},r=${attrs.get('r')}`;
    const signature = createHmac('sha256', storedKey).update(`${clientFirstBare},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    socket.write(frame('p', Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)));
    return await next();
  } finally {
    socket.destroy();
  }
}

describe('PGlite wire server: protocol edges', () => {
  it('ssl-request-flood: a second SSLRequest on one connection closes it (one of each, as PostgreSQL)', async () => {
    const r = raw();
    const ssl = Buffer.alloc(8);
    ssl.writeUInt32BE(8, 0);
    ssl.writeUInt32BE(80877103, 4);
    r.socket.write(ssl);
    r.socket.write(ssl);
    await r.closed;
    expect(r.received().subarray(0, 1).toString()).toBe('N');
    expect(r.received().toString()).toContain('duplicate SSLRequest');
  });

  it('scram-channel-binding-unchecked: a client-final whose c= does not repeat the gs2 header is refused', async () => {
    // The hand-made exchange itself is right: with c= = base64("n,,") it authenticates.
    expect((await scramWithBinding(Buffer.from('n,,').toString('base64'))).type).toBe('R');
    const reply = await scramWithBinding(Buffer.from('y,,').toString('base64'));
    expect(reply.type).toBe('E');
    expect(reply.body.toString()).toContain('channel binding');
  });

  it('terminate-during-copy-kept-the-session: Terminate in the middle of COPY FROM STDIN closes the connection, nothing loaded', async () => {
    const c = await connect();
    const s = socketOf(c);
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    const q = Buffer.from('QxxxxCOPY items FROM STDIN\0', 'latin1');
    q.writeUInt32BE(q.length - 1, 1);
    const d = Buffer.from('dxxxx1\tx\n', 'latin1');
    d.writeUInt32BE(d.length - 1, 1);
    s.write(Buffer.concat([q, d, Buffer.from([0x58, 0, 0, 0, 4])]));
    await closed;
    const next = await connect();
    expect((await next.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
  });
});

describe('PGlite wire server: limits', () => {
  it('startup-length-2^31-buffered-to-1.1-GiB: a startup packet declaring 2^31 bytes is refused at once, not buffered', async () => {
    const r = raw();
    const head = Buffer.alloc(8);
    head.writeUInt32BE(2 ** 31, 0);
    head.writeUInt32BE(196608, 4);
    r.socket.write(head);
    // Keep writing as a hostile client would; the server has already closed.
    r.socket.write(Buffer.alloc(1024 * 1024));
    await r.closed;
    expect(r.received().toString('latin1')).toContain('08P01');
    expect(r.received().toString('latin1')).toContain(`outside 4..${WIRE_LIMITS.preAuthMessageBytes}`);
  });

  it('ends a session whose message declares more than the message limit, and rolls back its transaction', async () => {
    const c = await connect();
    await c.query('BEGIN');
    await c.query('INSERT INTO items VALUES (3, $1)', ['c']);
    const socket = socketOf(c);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const head = Buffer.alloc(5);
    head.write('Q', 0, 'latin1');
    head.writeUInt32BE(2 ** 31, 1);
    socket.write(head);
    await closed;
    await until(() => !server.stats().active);
    const d = await connect();
    expect((await d.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
  });
});

describe('PGlite wire server: sessions', () => {
  it('disconnect-mid-transaction-left-pglite-in-it: the next client starts outside any transaction', async () => {
    const a = await connect();
    await a.query('BEGIN');
    await a.query('INSERT INTO items VALUES (4, $1)', ['d']);
    await a.query('SET LOCAL statement_timeout = 1234');
    socketOf(a).destroy();
    const b = await connect();
    // BEGIN would warn "there is already a transaction in progress" and the row would be visible inside it.
    const notices: string[] = [];
    b.on('notice', (n) => notices.push(n.message ?? ''));
    await b.query('BEGIN');
    expect((await b.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    await b.query('COMMIT');
    expect(notices).toEqual([]);
  });

  it('a client disconnecting half-way through an extended-protocol exchange leaves PGlite synced', async () => {
    const a = await connect();
    await a.query('BEGIN');
    const socket = socketOf(a);
    // Parse and Bind without Sync, then gone.
    const parse = Buffer.concat([Buffer.from('P'), Buffer.alloc(4), Buffer.from('\0INSERT INTO items VALUES (5, \'e\')\0'), Buffer.alloc(2)]);
    parse.writeUInt32BE(parse.length - 1, 1);
    socket.write(parse);
    socket.destroy();
    const b = await connect();
    expect((await b.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    await b.query('INSERT INTO items VALUES ($1, $2)', [6, 'f']);
    expect((await b.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 1 }]);
  });

  it('one session at a time: a second client waits for the first to end, then sees its committed work', async () => {
    const a = await connect();
    await a.query('BEGIN');
    await a.query('INSERT INTO items VALUES (7, $1)', ['g']);
    let bConnected = false;
    const bPromise = connect().then((b) => {
      bConnected = true;
      return b;
    });
    await until(() => server.stats().waiting === 1);
    expect(bConnected).toBe(false);
    await a.query('COMMIT');
    await a.end();
    const b = await bPromise;
    expect((await b.query('SELECT name FROM items')).rows).toEqual([{ name: 'g' }]);
  });

  it('does not forward a PasswordMessage after authentication (PGlite would run its own startup again)', async () => {
    const c = await connect();
    const socket = socketOf(c);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const p = Buffer.concat([Buffer.from('p'), Buffer.alloc(4), Buffer.from('x\0')]);
    p.writeUInt32BE(p.length - 1, 1);
    socket.write(p);
    await closed;
    const d = await connect();
    expect((await d.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });
});

describe('PGlite wire server: the production adapter against it', () => {
  it('copy-from-stdin-trapped-pglite: COPY FROM STDIN loads rows (served by the server), in and out of a transaction', async () => {
    const sql = await openPgClient(`postgres://exhibit@127.0.0.1:${server.port}/postgres`, { entraAuth: false, password: PASSWORD, maxConnections: 1 });
    try {
      expect(await sql.copyFrom('COPY items (id, name) FROM STDIN', '10\tx\n11\t\\N\n')).toBe(2);
      await sql.transaction(async (tx) => {
        expect(await tx.copyFrom('COPY items (id, name) FROM STDIN', new TextEncoder().encode('12\ty\n'))).toBe(1);
      });
      expect((await sql.query('SELECT id, name FROM items ORDER BY id')).rows).toEqual([
        { id: 10, name: 'x' },
        { id: 11, name: null },
        { id: 12, name: 'y' },
      ]);
      // Bad data fails typed, and the session goes on.
      await expect(sql.copyFrom('COPY items (id, name) FROM STDIN', 'not-a-number\tz\n')).rejects.toBeInstanceOf(ExhibitError);
      // Over the COPY limit (64 KiB in this test): refused, nothing loaded, the session goes on.
      const big = Array.from({ length: 5000 }, (_, i) => `${100 + i}\tname-${i}`).join('\n') + '\n';
      await expect(sql.copyFrom('COPY items (id, name) FROM STDIN', big)).rejects.toThrow(/COPY data over 65536 bytes/);
      expect((await sql.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 3 }]);
      // A COPY FROM STDIN that is not the only statement never reaches PGlite.
      await expect(sql.exec('SELECT 1; COPY items FROM STDIN')).rejects.toThrow(/only statement/);
      expect(fatal).toEqual([]);
    } finally {
      await sql.close();
    }
  });

  it('debug-notices-on-every-message: a parameterised query (Parse/Bind/Execute) brings no NoticeResponse, in the first session and the next', async () => {
    for (let round = 0; round < 2; round++) {
      const c = await connect();
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      expect((await c.query('SELECT $1::int AS v', [round])).rows).toEqual([{ v: round }]);
      expect(notices).toEqual([]);
      await c.end();
      await until(() => !server.stats().active);
    }
  });

  it('a transaction the adapter rolls back is rolled back; the pool of one runs the next statement', async () => {
    const sql = await openPgClient(`postgres://exhibit@127.0.0.1:${server.port}/postgres`, { entraAuth: false, password: PASSWORD, maxConnections: 1 });
    try {
      await expect(
        sql.transaction(async (tx) => {
          await tx.query('INSERT INTO items VALUES (20, $1)', ['t']);
          throw new Error('caller failed');
        }),
      ).rejects.toThrow('caller failed');
      expect((await sql.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 0 }]);
    } finally {
      await sql.close();
    }
  });
});

describe('PGlite wire server: connection slots', () => {
  it('identify-requests-leak-connection-slots: 33 identify requests leave every slot free; a client then authenticates and close() ends', { timeout: 60_000 }, async () => {
    const slotDb = await openPgliteDatabase('memory://');
    const slotServer = await startWireServer({ db: slotDb, password: PASSWORD, instanceId: 'slots', onFatal: (err) => fatal.push(err), limits: { connections: 32 } });
    // Held open by the client after the answer: the server, not the client, must end them.
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 33; i++) {
        const socket = net.connect({ host: '127.0.0.1', port: slotServer.port });
        socket.on('error', () => undefined);
        held.push(socket);
        const answer = await new Promise<string>((resolve) => {
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.once('end', () => resolve(Buffer.concat(chunks).toString()));
          const req = Buffer.alloc(8);
          req.writeUInt32BE(8, 0);
          req.writeUInt32BE(IDENTIFY_REQUEST_CODE, 4);
          socket.write(req);
        });
        expect(answer).toBe('slots');
      }
      await until(() => slotServer.stats().connections === 0);
      const c = new pg.Client({ host: '127.0.0.1', port: slotServer.port, user: 'exhibit', database: 'postgres', password: PASSWORD });
      c.on('error', () => undefined);
      await c.connect();
      expect((await c.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
      await c.end();
      // Sockets refused at the cap are the server's to end too: close() must not wait for their clients.
      const refused: net.Socket[] = [];
      for (let i = 0; i < 40; i++) {
        const s = net.connect({ host: '127.0.0.1', port: slotServer.port });
        s.on('error', () => undefined);
        refused.push(s);
      }
      await Promise.all(refused.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r) : r(null)))));
      await until(() => slotServer.stats().unauthenticated === WIRE_LIMITS.unauthenticatedConnections);
      held.push(...refused);
      await slotServer.close();
    } finally {
      for (const s of held) s.destroy();
      await slotDb.close();
    }
  });
});

describe('PGlite wire server: unauthenticated sockets', () => {
  it('slowloris-filled-connection-slots: sockets that never finish their startup take only the unauthenticated slots; an authenticated session goes on', { timeout: 60_000 }, async () => {
    const slowDb = await openPgliteDatabase('memory://');
    const slowServer = await startWireServer({ db: slowDb, password: PASSWORD, instanceId: 'slow', onFatal: (err) => fatal.push(err), limits: { connections: 8, unauthenticatedConnections: 4, authTimeoutMs: 60_000 } });
    const idle: { socket: net.Socket; chunks: Buffer[]; closed: boolean }[] = [];
    try {
      const a = new pg.Client({ host: '127.0.0.1', port: slowServer.port, user: 'exhibit', database: 'postgres', password: PASSWORD });
      a.on('error', () => undefined);
      await a.connect();
      for (let i = 0; i < 8; i++) {
        const entry = { socket: net.connect({ host: '127.0.0.1', port: slowServer.port }), chunks: [] as Buffer[], closed: false };
        entry.socket.on('data', (c: Buffer) => entry.chunks.push(c));
        entry.socket.on('error', () => undefined);
        entry.socket.once('close', () => (entry.closed = true));
        // One byte of a startup packet, as a slow client sends it.
        entry.socket.write(Buffer.from([0]));
        idle.push(entry);
      }
      await until(() => idle.filter((e) => e.closed).length === 4);
      for (const e of idle.filter((x) => x.closed)) expect(Buffer.concat(e.chunks).toString()).toContain('53300');
      expect(slowServer.stats().unauthenticated).toBe(4);
      expect((await a.query('SELECT 4 AS four')).rows).toEqual([{ four: 4 }]);
      await a.end();
      await slowServer.close();
    } finally {
      for (const e of idle) e.socket.destroy();
      await slowDb.close();
    }
  });
});

describe('PGlite wire server: COPY FROM STDIN forms', () => {
  it('copy-from-stdin-bypassed-by-comment-or-quoted-identifier: every COPY FROM STDIN is served or refused, none reaches PGlite', { timeout: 60_000 }, async () => {
    const copyDb = await openPgliteDatabase('memory://');
    await copyDb.exec('CREATE TABLE t (a int); CREATE TABLE "from stdin" (a int)');
    const seen: unknown[] = [];
    const copyServer = await startWireServer({ db: copyDb, password: PASSWORD, instanceId: 'copy', onFatal: (err) => seen.push(err) });
    const sql = await openPgClient(`postgres://exhibit@127.0.0.1:${copyServer.port}/postgres`, { entraAuth: false, password: PASSWORD, maxConnections: 1 });
    try {
      // A comment where the space was: served (the data arrives), not handed to PGlite.
      expect(await sql.copyFrom('copy t from/**/stdin', '1\n')).toBe(1);
      expect(await sql.copyFrom('COPY t -- a comment\n FROM\n\tSTDIN', '2\n')).toBe(1);
      // "FROM STDIN" inside a quoted identifier is the table's name; the statement's own FROM STDIN is the one served.
      expect(await sql.copyFrom('COPY "from stdin" (a) FROM STDIN', '3\n')).toBe(1);
      // Forms that cannot be served safely are refused before PGlite sees them.
      await expect(sql.exec('COPY t FROM STDIN; SELECT 1')).rejects.toThrow(/only statement/);
      await expect(sql.exec("SELECT 'x'/**/; copy t from/**/stdin")).rejects.toThrow(/only statement/);
      // Text in a string or comment is not a COPY.
      expect((await sql.query("SELECT 'COPY t FROM STDIN' AS s /* copy t from stdin */")).rows).toEqual([{ s: 'COPY t FROM STDIN' }]);
      expect((await sql.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
      expect((await sql.query('SELECT count(*)::int AS n FROM "from stdin"')).rows).toEqual([{ n: 1 }]);
      expect(seen).toEqual([]);
    } finally {
      await sql.close();
      await copyServer.close();
      await copyDb.close();
    }
  });
});

describe('PGlite wire server: PGlite failing', () => {
  it('a WebAssembly trap in PGlite is fatal: onFatal is called and the client gets an error, not a hang', async () => {
    const trapDb = await openPgliteDatabase('memory://');
    await trapDb.exec('CREATE TABLE t (a int)');
    const seen: unknown[] = [];
    const trapServer = await startWireServer({ db: trapDb, password: PASSWORD, instanceId: 'trap', onFatal: (err) => seen.push(err) });
    try {
      // The real trap, reached directly (the server itself never sends COPY FROM STDIN to PGlite).
      await expect(trapDb.execProtocolRaw(new Uint8Array(Buffer.from('Q\0\0\0\x16COPY t FROM STDIN\0', 'latin1')))).rejects.toThrow(/unreachable/);
      const c = new pg.Client({ host: '127.0.0.1', port: trapServer.port, user: 'exhibit', password: PASSWORD });
      c.on('error', () => undefined);
      await c.connect();
      await expect(c.query('SELECT 1')).rejects.toThrow();
      expect(seen).toHaveLength(1);
      expect(String(seen[0])).toMatch(/unreachable/);
      await c.end().catch(() => undefined);
    } finally {
      await trapServer.close();
    }
  });
});

describe('memory growth log (EXHIBIT_INDEX_MEMORY_LOG_MS)', () => {
  it('names the statement that grew PGlite\'s WebAssembly memory', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = createRootLogger({ destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
    const growDb = await openPgliteDatabase('memory://');
    const growServer = await startWireServer({ db: growDb, password: PASSWORD, instanceId: 'grow', logger, logMemoryGrowth: true, onFatal: (err) => fatal.push(err) });
    const memoryBytes = () => pgliteMemoryBytes(growDb)!;
    const before = memoryBytes();
    const client = new pg.Client({ host: '127.0.0.1', port: growServer.port, user: 'exhibit', database: 'postgres', password: PASSWORD });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      expect(lines.filter((l) => l.msg === 'PGlite memory grew')).toEqual([]);
      // An in-memory sort of ~30 MB: more than PGlite's heap has free after its open.
      await client.query("SET work_mem = '256MB'");
      const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM (SELECT g::text || repeat('x', 100) AS t FROM generate_series(1, 200000) g ORDER BY 1 OFFSET 1) x");
      expect(Number(rows[0]!.n)).toBe(199_999);
      const grew = lines.filter((l) => l.msg === 'PGlite memory grew');
      expect(memoryBytes()).toBeGreaterThan(before);
      expect(grew.length).toBeGreaterThan(0);
      expect(grew[0]!.fromBytes).toBe(before);
      expect(grew.at(-1)!.toBytes).toBe(memoryBytes());
      expect(String(grew.at(-1)!.sql)).toContain('generate_series(1, 200000)');
    } finally {
      await client.end().catch(() => undefined);
      await growServer.close();
      await growDb.close();
    }
  });
});

/** A full collection: `gc` exposed only while it is taken (as exifr-source.test.ts). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

describe('PGlite wire server: memory', () => {
  it('every-answered-row-kept-on-the-pglite-instance', async () => {
    // Each answer is parsed by PGlite into messages on the instance; what a session was answered must not stay reachable.
    // 24 rows of 1 MiB of text each: 24 MiB on the JavaScript heap if they are kept, nothing once answered if not.
    const client = await connect();
    await client.query('SELECT 1');
    collectGarbage();
    const beforeBytes = process.memoryUsage().heapUsed;
    for (let i = 0; i < 24; i++) {
      const { rows } = await client.query<{ t: string }>("SELECT repeat('x', 1048576) || $1::text AS t", [String(i)]);
      expect(rows[0]!.t.length).toBe(1_048_576 + String(i).length);
    }
    collectGarbage();
    const grownMiB = (process.memoryUsage().heapUsed - beforeBytes) / 1048576;
    expect(grownMiB).toBeLessThan(8);
  });
});
