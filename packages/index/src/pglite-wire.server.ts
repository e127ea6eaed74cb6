import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from '@exhibit/core';
import { pgliteMemoryBytes } from './pglite-memory.js';

/**
 * The PostgreSQL wire protocol in front of one PGlite, on loopback, for the
 * local host's index process (docs/architecture.md, "Index process"). The host
 * talks to it with the production node-postgres adapter.
 *
 * Why not @electric-sql/pglite-socket: it forwards bytes as they come, so
 * `COPY ... FROM STDIN` (the hash-set imports' bulk load) reaches PGlite, whose
 * single-user backend traps on it (`RuntimeError: unreachable`) and is dead
 * from then on; and it hands the client's startup to PGlite, with no password.
 *
 * What this server guarantees:
 * - Authentication is its own: a client completes a startup message and
 *   SCRAM-SHA-256 against the per-start password before a byte of its reaches
 *   PGlite (PGlite's own startup happened once, at open). A client that gives
 *   up half-way (`pg_isready`) costs a socket and nothing else.
 * - Every declared length is checked against a named limit when its header
 *   arrives; pre-auth buffering is bounded by the startup limit.
 * - One session at a time talks to PGlite (it is single-session): other
 *   authenticated clients wait for the slot. A session that ends however it
 *   ends (Terminate, a dropped socket, a protocol error) is closed out first:
 *   an unfinished extended-protocol exchange synced, an open transaction
 *   rolled back, session state discarded.
 * - COPY FROM STDIN is served by the server: the data is taken up to a named
 *   limit and handed to PGlite as /dev/blob, as PGlite's own query() does.
 * - PGlite throwing from the protocol (a WebAssembly trap, a fatal backend
 *   error) is never survivable: `onFatal` is called, every socket is dropped
 *   and nothing more is sent to PGlite.
 */

export const WIRE_LIMITS = {
  /** Startup packet, SSL/GSS requests and the SASL messages before authentication (PostgreSQL caps startup at 10000). */
  preAuthMessageBytes: 10_000,
  /** One protocol message after authentication (a query's text, a Bind's parameters, one CopyData). */
  messageBytes: 64 * 1024 * 1024,
  /** All the CopyData of one COPY FROM STDIN, held in memory until CopyDone (a hash-set chunk is 100 000 rows). */
  copyBytes: 256 * 1024 * 1024,
  /** From accept to the end of authentication; a client that does not finish by then is dropped. */
  authTimeoutMs: 10_000,
  /** Sockets open at once, authenticated or not. */
  connections: 32,
  /**
   * Sockets not yet authenticated, a cap of their own: clients trickling their startup (slowloris) take at most these,
   * never the slots of authenticated sessions (the host's, which it keeps for good).
   */
  unauthenticatedConnections: 16,
  /** Authenticated sessions waiting for the one PGlite session. */
  waitingSessions: 16,
  /** SCRAM iteration count (PostgreSQL's default). */
  scramIterations: 4096,
} as const;

/** A code no PostgreSQL client sends (like SSLRequest's 1234/5679): answered with the server's instance id, then closed. */
export const IDENTIFY_REQUEST_CODE = (1234 << 16) | 7001;
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const PROTOCOL_3 = 196608;

/** The words COPY and STDIN, in the text left when comments, strings and quoted identifiers are masked. */
const MENTIONS_COPY_STDIN = /\bCOPY\b[\s\S]*\bSTDIN\b|\bSTDIN\b[\s\S]*\bCOPY\b/i;
/** The one form served: a single COPY statement whose (masked) text has exactly one `FROM STDIN`. */
const SERVED_COPY = /^\s*COPY\b[^;]*;?\s*$/i;
const FROM_STDIN = /\bFROM\s+STDIN\b/gi;
/** Frontend messages handed to PGlite: the simple and extended query protocols. */
const FORWARDED_TYPES = new Set(['Q', 'P', 'B', 'E', 'D', 'C', 'H', 'S']);
/** At most one "wrong password" log line per this interval (the others are counted in the next one). */
const WRONG_PASSWORD_LOG_INTERVAL_MS = 10_000;
/** Protocol messages of one session queued for PGlite before its socket is paused. */
const QUEUED_MESSAGES_HIGH = 64;

export interface WireServerOptions {
  db: PGlite;
  password: string;
  /** Answered to IDENTIFY_REQUEST_CODE, so a later host can tell this process from a recycled pid. */
  instanceId: string;
  host?: string;
  port?: number;
  logger?: Logger;
  /** PGlite failed in a way it cannot come back from; the caller must end the process. */
  onFatal: (err: unknown) => void;
  limits?: Partial<Record<keyof typeof WIRE_LIMITS, number>>;
  /**
   * Diagnostics (benchmarks, EXHIBIT_INDEX_MEMORY_LOG_MS): log each growth of PGlite's WebAssembly memory with the
   * statement that was running, so what sets its high-water mark can be read from the log.
   */
  logMemoryGrowth?: boolean;
}

export interface WireServer {
  port: number;
  /**
   * Stops accepting sessions, ends every session (rolling back what is open), runs `beforeUnlisten` (the index
   * process closes PGlite there) and closes the listening socket. Identify requests are answered until then.
   */
  close(options?: { beforeUnlisten?: () => Promise<void> }): Promise<void>;
  /** Sessions served since start (tests). */
  stats(): { sessions: number; active: boolean; waiting: number; connections: number; unauthenticated: number };
}

class FatalDbError extends Error {}

// ---- message encoding -------------------------------------------------------------------------

function msg(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function errorResponse(sqlState: string, message: string, severity = 'ERROR'): Buffer {
  return msg('E', Buffer.concat([Buffer.from('S'), cstr(severity), Buffer.from('V'), cstr(severity), Buffer.from('C'), cstr(sqlState), Buffer.from('M'), cstr(message), Buffer.from([0])]));
}

function queryMessage(sql: string): Uint8Array {
  return new Uint8Array(msg('Q', cstr(sql)));
}

const SYNC = new Uint8Array(msg('S'));
const QUIET_NOTICES = 'SET client_min_messages TO warning';

/** The transaction status of the last ReadyForQuery in a response, if it has one. */
function lastReadyStatus(out: Uint8Array): string | null {
  let status: string | null = null;
  let off = 0;
  const view = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  while (off + 5 <= view.length) {
    const len = view.readUInt32BE(off + 1);
    if (view[off] === 0x5a && len === 5 && off + 6 <= view.length) status = String.fromCharCode(view[off + 5]!);
    off += 1 + len;
  }
  return status;
}

// ---- SCRAM-SHA-256 (RFC 5802 / 7677), server side ------------------------------------------------

interface ScramSecret {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function scramSecret(password: string, iterations: number): ScramSecret {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  return { salt, iterations, storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
}

function scramAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

// ---- the server -------------------------------------------------------------------------------

type Phase = 'startup' | 'sasl-initial' | 'sasl-final' | 'waiting' | 'session' | 'closed';

export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const limits = { ...WIRE_LIMITS, ...options.limits };
  const { db, logger } = options;
  const secret = scramSecret(options.password, limits.scramIterations);
  // PGlite's backend logs at DEBUG: without this every Parse and Bind comes back with a NoticeResponse.
  await db.exec(QUIET_NOTICES);
  const parameterStatus = await serverParameters(db);
  let fatal = false;
  let closing = false;
  let sessionsServed = 0;
  let active: Connection | null = null;
  const waiting: Connection[] = [];
  /** Sockets holding a connection slot (counted against limits.connections). */
  const sockets = new Set<net.Socket>();
  /** Wrong-password log lines: at most one per window, with the count of the ones not logged. */
  let wrongPasswordsUnlogged = 0;
  let wrongPasswordLoggedAtMs = -Infinity;
  /** Every accepted socket until it closes, slot or not (refused at the cap, answered an identify): close() destroys them all. */
  const accepted = new Set<net.Socket>();
  /** Slot holders still before authentication (counted against limits.unauthenticatedConnections). */
  const unauthenticated = new Set<net.Socket>();

  const failFatal = (err: unknown) => {
    if (fatal) return;
    fatal = true;
    logger?.fatal({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'PGlite failed; the index process cannot go on');
    for (const s of sockets) s.destroy();
    options.onFatal(err);
  };

  // PGlite's WebAssembly memory only grows (WebAssembly cannot shrink it): each rise is a new high-water mark.
  const memoryBytes = () => pgliteMemoryBytes(db) ?? 0;
  let memorySeenBytes = options.logMemoryGrowth ? memoryBytes() : 0;
  /** The text of the last Query or Parse forwarded (one session at a time): what a growth is logged against. */
  let lastSql = '';

  /** Every call into PGlite goes through here: a throw is never a query error (those come back as ErrorResponse). */
  const exec = async (bytes: Uint8Array): Promise<Uint8Array> => {
    if (fatal) throw new FatalDbError('PGlite has failed');
    try {
      // execProtocol, not execProtocolRaw: PGlite (0.3.16) parses every message its backend sends into an array on the
      // instance that only execProtocol empties, so through execProtocolRaw every row ever answered stayed on the
      // JavaScript heap (~7 KB per file in the disk bench). throwOnError off: errors go to the client as ErrorResponse.
      return (await db.execProtocol(bytes, { throwOnError: false })).data;
    } catch (err) {
      failFatal(err);
      throw new FatalDbError('PGlite has failed', { cause: err });
    } finally {
      if (options.logMemoryGrowth && memoryBytes() > memorySeenBytes) {
        logger?.info({ fromBytes: memorySeenBytes, toBytes: memoryBytes(), message: String.fromCharCode(bytes[0] ?? 0), sql: lastSql.slice(0, 400) }, 'PGlite memory grew');
        memorySeenBytes = memoryBytes();
      }
    }
  };

  const grant = () => {
    while (!active && waiting.length > 0) {
      const next = waiting.shift()!;
      if (next.phase !== 'waiting') continue;
      active = next;
      next.begin();
    }
  };

  class Connection {
    phase: Phase = 'startup';
    private chunks: Buffer[] = [];
    private buffered = 0;
    private work: Promise<void> = Promise.resolve();
    private user = '';
    private clientFirstBare = '';
    private gs2Header = '';
    private sslAsked = false;
    private gssAsked = false;
    private serverFirst = '';
    private nonce = '';
    private txStatus = 'I';
    /** Messages were sent to PGlite since its last ReadyForQuery (an unfinished extended-protocol exchange). */
    private unsynced = false;
    private skipUntilSync = false;
    private queued = 0;
    private copy: { sql: string; parts: Buffer[]; bytes: number; tooLarge: boolean } | null = null;
    private authTimer: NodeJS.Timeout;

    constructor(readonly socket: net.Socket) {
      this.authTimer = setTimeout(() => this.fail('08006', 'authentication not completed in time'), limits.authTimeoutMs);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('close', () => this.onClose());
      socket.on('error', () => undefined);
    }

    private send(b: Buffer | Uint8Array) {
      if (!this.socket.destroyed) this.socket.write(b);
    }

    fail(sqlState: string, message: string) {
      if (this.phase === 'closed') return;
      this.send(errorResponse(sqlState, message, 'FATAL'));
      this.socket.end();
      this.socket.destroySoon();
      this.onClose();
    }

    private onData(chunk: Buffer) {
      if (this.phase === 'closed') return;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.parse();
    }

    /** Takes every complete message off the buffer; a declared length over its limit ends the connection at once. */
    private parse() {
      for (;;) {
        if (this.phase === 'closed') return;
        const startup = this.phase === 'startup';
        const headerBytes = startup ? 4 : 5;
        if (this.buffered < headerBytes) return;
        const head = this.peek(headerBytes);
        const declared = head.readUInt32BE(startup ? 0 : 1);
        const preAuth = this.phase === 'startup' || this.phase === 'sasl-initial' || this.phase === 'sasl-final';
        const max = preAuth ? limits.preAuthMessageBytes : limits.messageBytes;
        if (declared < 4 || declared > max) {
          this.fail(preAuth ? '08P01' : '54000', `message length ${declared} is outside 4..${max} bytes`);
          return;
        }
        if (!preAuth && this.phase === 'waiting') {
          // Nothing is read from a client until its session starts: it has not had ReadyForQuery yet.
          if (this.buffered > limits.preAuthMessageBytes) this.fail('08P01', 'data sent before the session started');
          return;
        }
        const total = startup ? declared : declared + 1;
        if (this.buffered < total) return;
        const whole = this.take(total);
        if (startup) this.onStartup(whole);
        else if (preAuth) this.onSasl(whole);
        else this.enqueue(whole);
      }
    }

    private peek(n: number): Buffer {
      if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
      return this.chunks[0]!.subarray(0, n);
    }

    private take(n: number): Buffer {
      if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
      const first = this.chunks[0]!;
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }

    private onStartup(packet: Buffer) {
      if (packet.length < 8) return this.fail('08P01', 'invalid startup packet');
      const code = packet.readUInt32BE(4);
      if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
        // As PostgreSQL: one of each per connection; a client repeating one is not negotiating but flooding.
        const ssl = code === SSL_REQUEST_CODE;
        if (ssl ? this.sslAsked : this.gssAsked) return this.fail('08P01', `duplicate ${ssl ? 'SSLRequest' : 'GSSENCRequest'}`);
        if (ssl) this.sslAsked = true;
        else this.gssAsked = true;
        this.send(Buffer.from('N'));
        return;
      }
      if (code === IDENTIFY_REQUEST_CODE) {
        // The slot is given back now (not when the client closes its end); the socket is destroyed once the answer is written.
        this.socket.end(options.instanceId);
        this.onClose();
        return;
      }
      if (code === CANCEL_REQUEST_CODE) {
        // No cancellation: PGlite runs one statement at a time to its end.
        this.socket.end();
        this.onClose();
        return;
      }
      if (code !== PROTOCOL_3) return this.fail('0A000', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
      // While closing only identify requests are answered.
      if (closing) return this.fail('57P03', 'the index is shutting down');
      const fields = packet.subarray(8).toString('utf8').split('\0');
      const params = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length && fields[i] !== ''; i += 2) params.set(fields[i]!, fields[i + 1]!);
      const user = params.get('user');
      if (!user) return this.fail('28000', 'no user name in the startup packet');
      this.user = user;
      this.phase = 'sasl-initial';
      this.send(msg('R', Buffer.concat([int32(10), cstr('SCRAM-SHA-256'), Buffer.from([0])])));
    }

    private onSasl(m: Buffer) {
      if (m[0] !== 0x70 /* p */) return this.fail('08P01', 'expected a SASL response');
      const body = m.subarray(5);
      if (this.phase === 'sasl-initial') {
        const nul = body.indexOf(0);
        if (nul < 0 || body.subarray(0, nul).toString() !== 'SCRAM-SHA-256' || body.length < nul + 5) return this.fail('28000', 'SCRAM-SHA-256 is required');
        const clientFirst = body.subarray(nul + 5).toString('utf8');
        // gs2 header: no channel binding ('n') or supported-but-not-offered ('y'); 'p' needs TLS, which is not served.
        const match = /^([ny]),,(.*)$/.exec(clientFirst);
        const attrs = match ? scramAttributes(match[2]!) : null;
        const clientNonce = attrs?.get('r');
        if (!match || !clientNonce) return this.fail('08P01', 'malformed SCRAM client-first message');
        this.clientFirstBare = match[2]!;
        this.gs2Header = `${match[1]},,`;
        this.nonce = clientNonce + randomBytes(18).toString('base64');
        this.serverFirst = `r=${this.nonce},s=${secret.salt.toString('base64')},i=${secret.iterations}`;
        this.phase = 'sasl-final';
        this.send(msg('R', Buffer.concat([int32(11), Buffer.from(this.serverFirst)])));
        return;
      }
      const clientFinal = body.toString('utf8');
      const proofAt = clientFinal.lastIndexOf(',p=');
      const attrs = scramAttributes(clientFinal);
      const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
      if (proofAt < 0 || attrs.get('r') !== this.nonce || proof.length !== 32) return this.fail('28P01', `password authentication failed for user "${this.user}"`);
      // The channel binding must repeat the client-first message's gs2 header (RFC 5802, 'c=').
      if (attrs.get('c') !== Buffer.from(this.gs2Header).toString('base64')) return this.fail('08P01', 'SCRAM channel binding does not match the client-first message');
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${clientFinal.slice(0, proofAt)}`;
      const signature = hmac(secret.storedKey, authMessage);
      const clientKey = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ signature[i]!;
      if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), secret.storedKey)) {
        // Rate-limited: a client guessing passwords must not fill the log.
        wrongPasswordsUnlogged += 1;
        const nowMs = Date.now();
        if (nowMs - wrongPasswordLoggedAtMs >= WRONG_PASSWORD_LOG_INTERVAL_MS) {
          logger?.warn({ user: this.user, refused: wrongPasswordsUnlogged }, 'index connection refused: wrong password');
          wrongPasswordLoggedAtMs = nowMs;
          wrongPasswordsUnlogged = 0;
        }
        return this.fail('28P01', `password authentication failed for user "${this.user}"`);
      }
      clearTimeout(this.authTimer);
      this.send(msg('R', Buffer.concat([int32(12), Buffer.from(`v=${hmac(secret.serverKey, authMessage).toString('base64')}`)])));
      this.send(msg('R', int32(0)));
      if (closing || fatal) return this.fail('57P03', 'the index is shutting down');
      if (waiting.length >= limits.waitingSessions) return this.fail('53300', 'too many sessions waiting for the index');
      unauthenticated.delete(this.socket);
      this.phase = 'waiting';
      waiting.push(this);
      grant();
    }

    /** This connection now owns the PGlite session. */
    begin() {
      this.phase = 'session';
      sessionsServed += 1;
      this.txStatus = 'I';
      this.send(Buffer.concat([...parameterStatus, msg('K', Buffer.concat([int32(process.pid), randomBytes(4)])), msg('Z', Buffer.from('I'))]));
      this.parse();
    }

    private enqueue(m: Buffer) {
      // An authenticated client may pipeline; what waits for PGlite stays bounded by pausing its socket.
      if (++this.queued > QUEUED_MESSAGES_HIGH) this.socket.pause();
      this.work = this.work
        .then(() => this.handle(m))
        .catch((err: unknown) => {
          if (!(err instanceof FatalDbError)) logger?.error({ err: String(err) }, 'index session failed');
          this.socket.destroy();
        })
        .finally(() => {
          if (--this.queued === QUEUED_MESSAGES_HIGH / 2) this.socket.resume();
        });
    }

    private async handle(m: Buffer) {
      if (this.phase !== 'session') return;
      const type = String.fromCharCode(m[0]!);
      if (this.copy) return this.handleCopy(type, m);
      if (type === 'X') {
        // Closed out now, not when the client closes its end: the session slot is given back at once.
        this.socket.end();
        this.onClose();
        return;
      }
      // Stray copy messages are ignored, as by PostgreSQL.
      if (type === 'd' || type === 'c' || type === 'f') return;
      // Anything else is refused before PGlite sees it: a PasswordMessage there would run PGlite's own startup again.
      if (!FORWARDED_TYPES.has(type)) return this.fail('08P01', `unexpected message type '${type}'`);
      if (options.logMemoryGrowth && (type === 'Q' || type === 'P')) lastSql = m.subarray(5).toString('utf8');
      if (type === 'Q') {
        const sql = m.subarray(5, m.length - 1).toString('utf8');
        const form = copyFromStdin(sql);
        if (form.kind === 'served') {
          this.copy = { sql: form.rewritten, parts: [], bytes: 0, tooLarge: false };
          // Text format; the column formats are not used by clients of a text COPY.
          this.send(msg('G', Buffer.concat([Buffer.from([0]), Buffer.from([0, 0])])));
          return;
        }
        if (form.kind === 'refused') return this.refuse('COPY FROM STDIN must be the only statement of its query, in the form COPY ... FROM STDIN [options]');
      }
      if (this.skipUntilSync) {
        if (type !== 'S') return;
        this.skipUntilSync = false;
        // The refused Parse fails an open transaction as PostgreSQL's own error would; only its ReadyForQuery is passed on.
        if (this.txStatus === 'T') this.observe(await exec(queryMessage(raiseSql('refused'))));
        this.send(msg('Z', Buffer.from(this.txStatus)));
        return;
      }
      if (type === 'P' && MENTIONS_COPY_STDIN.test(maskSql(m.subarray(5).toString('utf8')))) {
        // As PostgreSQL after an error in the extended protocol: the error now, then nothing until Sync.
        this.send(errorResponse('0A000', 'COPY FROM STDIN is served only through the simple query protocol'));
        this.skipUntilSync = true;
        return;
      }
      this.unsynced = true;
      const out = await exec(new Uint8Array(m));
      this.observe(out);
      this.send(out);
    }

    private observe(out: Uint8Array) {
      const status = lastReadyStatus(out);
      if (status) {
        this.txStatus = status;
        this.unsynced = false;
      }
    }

    /** An error answered by the server itself, as PostgreSQL would: in a transaction, it fails the transaction. */
    private async refuse(message: string) {
      const out = await exec(queryMessage(raiseSql(message)));
      this.observe(out);
      this.send(out);
    }

    private async handleCopy(type: string, m: Buffer) {
      const copy = this.copy!;
      if (type === 'd') {
        const data = m.subarray(5);
        copy.bytes += data.length;
        if (copy.bytes > limits.copyBytes) {
          copy.tooLarge = true;
          copy.parts = [];
        } else if (!copy.tooLarge) copy.parts.push(Buffer.from(data));
        return;
      }
      if (type === 'H' || type === 'S') return;
      this.copy = null;
      // Terminate ends the connection, COPY or not; the session's reset (onClose) rolls back what is open.
      if (type === 'X') {
        this.socket.end();
        this.onClose();
        return;
      }
      if (type === 'c' && !copy.tooLarge) {
        const sql = copy.sql;
        await db._handleBlob(new Blob(copy.parts));
        try {
          const out = await exec(queryMessage(sql));
          this.observe(out);
          this.send(out);
        } finally {
          await db._cleanupBlob();
        }
        return;
      }
      const reason = copy.tooLarge
        ? `COPY data over ${limits.copyBytes} bytes`
        : type === 'f'
          ? `COPY from stdin failed: ${m.subarray(5, m.length - 1).toString('utf8')}`
          : `unexpected message type '${type}' during COPY`;
      await this.refuse(reason);
    }

    private onClose() {
      if (this.phase === 'closed') return;
      const wasSession = this.phase === 'session';
      this.phase = 'closed';
      clearTimeout(this.authTimer);
      sockets.delete(this.socket);
      unauthenticated.delete(this.socket);
      // A last answer being written (identify, an error) is flushed first; the socket is then destroyed, not left to the client to close.
      if (!this.socket.writableEnded || this.socket.writableFinished) this.socket.destroy();
      else this.socket.once('finish', () => this.socket.destroy());
      const i = waiting.indexOf(this);
      if (i >= 0) waiting.splice(i, 1);
      if (!wasSession) return;
      // The session's end is its own last piece of work: after what it sent, before the next session starts.
      this.work = this.work
        .then(() => this.reset())
        .catch((err: unknown) => {
          if (!(err instanceof FatalDbError)) logger?.error({ err: String(err) }, 'closing an index session failed');
        })
        .finally(() => {
          if (active === this) active = null;
          grant();
        });
    }

    /** Leaves PGlite as a new session expects it: no half exchange, no transaction, no session state. */
    private async reset() {
      if (fatal) return;
      this.copy = null;
      this.skipUntilSync = false;
      if (this.unsynced) this.observe(await exec(SYNC));
      if (this.txStatus !== 'I') {
        logger?.warn({ txStatus: this.txStatus }, 'index client left in a transaction; rolled back');
        this.observe(await exec(queryMessage('ROLLBACK')));
      }
      await exec(queryMessage('DISCARD ALL'));
      // PGlite sets the search path at open, and the notice level above (DISCARD ALL's RESET ALL undoes both).
      await exec(queryMessage('SET search_path TO public'));
      await exec(queryMessage(QUIET_NOTICES));
    }
  }

  const server = net.createServer((socket) => {
    accepted.add(socket);
    socket.once('close', () => accepted.delete(socket));
    socket.on('error', () => undefined);
    if (fatal || sockets.size >= limits.connections || unauthenticated.size >= limits.unauthenticatedConnections) {
      // Not left to the client to close: a client that never does would otherwise keep it (and server.close()) open.
      socket.end(errorResponse('53300', 'too many connections to the index', 'FATAL'), () => socket.destroy());
      return;
    }
    sockets.add(socket);
    unauthenticated.add(socket);
    socket.setNoDelay(true);
    new Connection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    stats: () => ({ sessions: sessionsServed, active: active !== null, waiting: waiting.length, connections: sockets.size, unauthenticated: unauthenticated.size }),
    async close(closeOptions = {}) {
      if (closing) return;
      closing = true;
      for (const s of sockets) s.destroy();
      // The last session's reset runs before PGlite is handed back for closing.
      while (active) await new Promise((r) => setTimeout(r, 10));
      try {
        await closeOptions.beforeUnlisten?.();
      } finally {
        // server.close() waits for every accepted socket to close: all are destroyed here, refused and identify ones too.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of accepted) s.destroy();
        await closed;
      }
    },
  };
}

/**
 * `sql` with every comment, string constant (plain, E'', dollar-quoted) and quoted identifier replaced by spaces
 * of the same length, so what is left are keywords, names and punctuation at their original offsets. An
 * unterminated one is masked to the end. Conservative: it is used to find COPY ... STDIN, not to parse SQL.
 */
export function maskSql(sql: string): string {
  const out = sql.split('');
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      let j = i;
      while (j < n) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
          if (depth === 0) break;
        } else j++;
      }
      blank(i, j);
      i = j;
    } else if (c === "'" || c === '"') {
      // E'...' strings take backslash escapes; plain ones do not (standard_conforming_strings is on).
      const escapes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && (i < 2 || !/[\w$]/.test(sql[i - 2]!));
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) {
          j++;
          break;
        } else j++;
      }
      blank(i, Math.min(j, n));
      i = j;
    } else if (c === '$' && (i === 0 || !/[\w$]/.test(sql[i - 1]!))) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (!tag) {
        i++;
        continue;
      }
      const end = sql.indexOf(tag[0], i + tag[0].length);
      const stop = end < 0 ? n : end + tag[0].length;
      blank(i, stop);
      i = stop;
    } else i++;
  }
  return out.join('');
}

/**
 * What to do with a simple query that may be a COPY FROM STDIN: `served` (the rewritten statement reads
 * /dev/blob instead), `refused` (it mentions COPY and STDIN in a form not served: PGlite must never see it),
 * or `none`.
 */
export function copyFromStdin(sql: string): { kind: 'none' } | { kind: 'refused' } | { kind: 'served'; rewritten: string } {
  const masked = maskSql(sql);
  if (!MENTIONS_COPY_STDIN.test(masked)) return { kind: 'none' };
  const at = [...masked.matchAll(FROM_STDIN)];
  if (!SERVED_COPY.test(masked) || at.length !== 1 || (masked.match(/\bSTDIN\b/gi) ?? []).length !== 1) return { kind: 'refused' };
  const hit = at[0]!;
  return { kind: 'served', rewritten: `${sql.slice(0, hit.index)}FROM '/dev/blob'${sql.slice(hit.index + hit[0].length)}` };
}

/** A statement that fails with `message` (SQLSTATE 0A000), so PGlite's own transaction state follows the refusal. */
function raiseSql(message: string): string {
  return `DO $exhibit$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = '${message.replace(/'/g, "''").replace(/\$exhibit\$/g, '')}'; END $exhibit$`;
}

/** What a PostgreSQL server reports after authentication; clients read client_encoding and standard_conforming_strings. */
async function serverParameters(db: PGlite): Promise<Buffer[]> {
  const names = ['server_version', 'server_encoding', 'client_encoding', 'DateStyle', 'IntervalStyle', 'TimeZone', 'integer_datetimes', 'standard_conforming_strings'];
  const out: Buffer[] = [];
  for (const name of names) {
    const result = await db.query<Record<string, string>>(`SHOW ${name}`);
    const value = Object.values(result.rows[0] ?? {})[0];
    if (typeof value === 'string') out.push(msg('S', Buffer.concat([cstr(name), cstr(value)])));
  }
  return out;
}
