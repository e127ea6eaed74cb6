import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isValidId, LIMITS, type CustodyAction, type ToolVersion } from '@exhibit/core';
import { canonicalJson } from './canonical-json.js';
import type { PublicKeyRecord, SignatureAlgorithm } from './signer.js';

/** Named limits of the custody log; logs are read back from storage, so they are checked like evidence. */
export const CUSTODY_LIMITS = {
  /** Largest entry (one line, one append block). Azure allows 4 MiB per block; entries are small. */
  maxEntryBytes: 64 * 1024,
  /** Entries per segment; Azure's hard limit is 50,000 blocks per append blob. */
  rolloverEntries: 40_000,
  /** Bytes per segment before a new one starts. */
  rolloverBytes: 150 * 1024 * 1024,
  /**
   * Entries written as one append block (group commit): those that arrived while the
   * previous write to the log was in flight. Bounds one index statement too (15
   * parameters an entry, far below PostgreSQL's 65,535).
   */
  maxGroupEntries: 256,
  /**
   * Bytes of one group's block. Azure takes 4 MiB per append block (100 MiB from API
   * version 2022-11-02, as Azurite 3.35 does); kept at the size a writer that lost a race
   * reads back cheaply (maxDeltaReadBytes), so a rival's group never forces a full reload.
   * An entry larger than this still goes out, alone.
   */
  maxGroupBytes: 1024 * 1024,
  /**
   * Entries one group carries with a remote signer (Signer.remote: Key Vault, 15-50 ms a
   * signature). Entries are signed one at a time (each signature is inside the hash the next
   * chains to) while the tail the block is built on ages: 256 took 4-13 s and lost every race
   * to a rival instance, re-signing all 256 each time (Key Vault throttles at about 2,000
   * operations per 10 s). A lost race now re-signs at most this many.
   */
  maxRemoteGroupEntries: 8,
  /**
   * Signing time a group's block may spend with a remote signer before it stops taking entries
   * (the rest go in the next group). Not applied to local signing (microseconds an entry), whose
   * groups count and bytes bound.
   */
  maxGroupSigningMs: 150,
  /** Conditional appends tried before giving up with a retryable error. */
  maxAppendAttempts: 40,
  /** Longest wait between two contended append attempts. */
  maxBackoffMs: 500,
  /** Bytes read to catch up after losing a race; beyond that only the tail is read. */
  maxDeltaReadBytes: 1024 * 1024,
  /** Evidence items whose log tail a writer keeps in memory. */
  maxCachedTails: 10_000,
  /** Entries returned with a verification for display. */
  maxReportEntries: 5_000,
  /** How long verification waits for the index rows of a log's newest entries (written just after their append). */
  indexGraceMs: 5_000,
  /** Tool versions on one entry. */
  maxTools: 64,
  /**
   * Longest eventKey stored as given (UTF-16 code units). A longer one, e.g. `received:<blob
   * name>:<etag>` for a name near Azure's 1,024 characters, is stored in its digest form
   * (storedEventKey); 512 keeps custody_entries_event_key's row under a b-tree's 2,704 bytes.
   */
  maxEventKeyChars: 512,
} as const;

export const CUSTODY_FORMAT = 'exhibit-custody/1';
export const GENESIS_HASH = '0'.repeat(64);
/** The log's own identity on the entries it adds (segment starts). */
export const CUSTODY_ACTOR = 'service:exhibit-custody';
export const SEGMENT_START = 'segment-start';

/** Actions that record the SHA-256 of an evidence blob as computed by the pipeline. */
export const HASH_RECORDING_ACTIONS: ReadonlySet<string> = new Set(['acquisition-hashes', 'integrity-verified', 'integrity-mismatch']);

export type EntryAction = CustodyAction | typeof SEGMENT_START;

export interface CustodySubject {
  caseId: string;
  evidenceId: string;
  blobName?: string;
  fileId?: string;
  sha256?: string;
}

/** One line of a custody log. `signature` covers the canonical bytes of every other member. */
export interface CustodyEntry {
  v: 1;
  seq: number;
  /** UTC, ISO 8601 with milliseconds. */
  time: string;
  actor: string;
  action: EntryAction;
  subject: CustodySubject;
  details: Record<string, unknown>;
  tools: ToolVersion[];
  eventKey?: string;
  /** SHA-256 (hex) of the previous entry's canonical bytes; GENESIS_HASH for the very first. */
  prevHash: string;
  keyId: string;
  alg: SignatureAlgorithm;
  /** base64url */
  signature: string;
}

export type UnsignedEntry = Omit<CustodyEntry, 'signature'>;

/** What the first entry of every segment says, so each segment can be checked on its own. */
export interface SegmentStartDetails {
  format: typeof CUSTODY_FORMAT;
  canonicalization: 'RFC 8785';
  hash: 'SHA-256';
  segment: number;
  previousSegment: string | null;
  previousHash: string | null;
  key: PublicKeyRecord;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const id = z.string().refine(isValidId, 'invalid id');

const entrySchema = z.strictObject({
  v: z.literal(1),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  time: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    .refine((t) => !Number.isNaN(Date.parse(t)), 'invalid time'),
  actor: z.string().min(1).max(256),
  action: z.string().min(1).max(64),
  subject: z.strictObject({
    caseId: id,
    evidenceId: id,
    blobName: z.string().min(1).max(LIMITS.maxBlobNameChars).optional(),
    fileId: z.string().min(1).max(128).optional(),
    sha256: z.string().min(1).max(128).optional(),
  }),
  details: z.record(z.string(), z.unknown()),
  tools: z.array(z.strictObject({ name: z.string().max(200), version: z.string().max(200) })).max(CUSTODY_LIMITS.maxTools),
  eventKey: z.string().min(1).max(CUSTODY_LIMITS.maxEventKeyChars).optional(),
  prevHash: hex64,
  keyId: z.string().min(1).max(256),
  alg: z.enum(['Ed25519', 'ES256']),
  signature: z.string().min(1).max(512).regex(/^[A-Za-z0-9_-]+$/),
});

/** The part of an eventKey before its first ':' (`received`, `hash`, …) when it is a plain word. */
const EVENT_KEY_KIND = /^[a-z][a-z0-9-]{0,63}(?=:)/;

/**
 * The eventKey an event is stored and looked up with: the key itself up to
 * CUSTODY_LIMITS.maxEventKeyChars, else `<kind>:sha256:<hex of the key's UTF-8>`
 * (at most 136 characters). Deterministic, so a redelivery finds the same key;
 * no key up to the limit ever took the digest form, so keys recorded before
 * keep matching. A key of that form written as given could only equal a digest
 * form by holding a SHA-256 of a longer key: the pipeline's keys hold names and
 * ids instead.
 */
export function storedEventKey(eventKey: string): string {
  if (eventKey.length <= CUSTODY_LIMITS.maxEventKeyChars) return eventKey;
  const kind = EVENT_KEY_KIND.exec(eventKey)?.[0] ?? 'event';
  return `${kind}:sha256:${createHash('sha256').update(eventKey, 'utf8').digest('hex')}`;
}

export function unsignedPart(entry: CustodyEntry): UnsignedEntry {
  const { signature: _signature, ...rest } = entry;
  return rest;
}

export function signingBytes(entry: UnsignedEntry): Buffer {
  return Buffer.from(canonicalJson(entry), 'utf8');
}

/** The stored line: the entry's canonical JSON and a newline. */
export function encodeEntry(entry: CustodyEntry): Buffer {
  return Buffer.from(canonicalJson(entry) + '\n', 'utf8');
}

/** SHA-256 (hex) of an entry's canonical text, i.e. of its line without the newline. */
export function hashEntryText(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export type ParsedLine =
  | { ok: true; entry: CustodyEntry; hash: string }
  | { ok: false; reason: 'unparseable' | 'non-canonical'; detail: string };

/**
 * Parses one stored line (without its newline). The line must be exactly the
 * canonical form of what it contains: anything else was not written by us.
 */
export function parseEntryText(text: string): ParsedLine {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'unparseable', detail: `not JSON: ${(err as Error).message}` };
  }
  const parsed = entrySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: 'unparseable', detail: `not a custody entry: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}` };
  }
  let canonical: string;
  try {
    canonical = canonicalJson(raw);
  } catch (err) {
    return { ok: false, reason: 'unparseable', detail: (err as Error).message };
  }
  if (canonical !== text) return { ok: false, reason: 'non-canonical', detail: 'the line is not in canonical form (RFC 8785)' };
  return { ok: true, entry: parsed.data as CustodyEntry, hash: hashEntryText(text) };
}
