import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { assertValidId, ExhibitError, type AppendLog, type AppendLogHead } from '@exhibit/core';
import type { CheckpointStore } from './custody-checkpoint.js';
import { verifyCustody, type CustodyVerification } from './custody-verify.js';
import { parseTrustedKeys } from './key-registry.js';
import { casePrefix, parseSegmentName } from './segment-names.js';
import type { PublicKeyRecord } from './signer.js';
import { publicKeyBundle } from './trust-store.js';

export const BUNDLE_FORMAT = 'exhibit-custody-bundle/1';

/**
 * A custody bundle is one JSON Lines file a third party verifies with nothing
 * else: a header, the parts (the trusted public keys, the case's checkpoint
 * stream, every log segment, each as stored, in base64 chunks) and a closing
 * manifest with the SHA-256 and size of every part. The manifest comes last so
 * the export streams from storage in one pass; a bundle without it was cut short.
 */
export interface CustodyBundle {
  caseId: string;
  createdAt: string;
  keys: PublicKeyRecord[];
  checkpoints: Buffer | null;
  segments: Map<string, Buffer>;
}

/** Bytes per chunk line: small enough to stream, big enough to keep the file compact. */
const CHUNK_BYTES = 768 * 1024;
/** Longest line read back: a chunk line, or a manifest listing many segments. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Largest bundle read back; it is held in memory while verified. */
export const MAX_BUNDLE_BYTES = 2 * 1024 * 1024 * 1024;

type PartKind = 'keys' | 'checkpoints' | 'segment';
interface PartRecord {
  kind: PartKind;
  name: string;
  bytes: number;
  sha256: string;
}

const headerSchema = z.strictObject({ type: z.literal('header'), format: z.literal(BUNDLE_FORMAT), caseId: z.string(), createdAt: z.string().max(64) });
const chunkSchema = z.strictObject({ type: z.literal('chunk'), kind: z.enum(['keys', 'checkpoints', 'segment']), name: z.string().min(1).max(1024), data: z.string() });
const manifestSchema = z.strictObject({
  type: z.literal('manifest'),
  format: z.literal(BUNDLE_FORMAT),
  caseId: z.string(),
  parts: z
    .array(z.strictObject({ kind: z.enum(['keys', 'checkpoints', 'segment']), name: z.string().min(1).max(1024), bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
    .max(1_000_000),
});

/**
 * Writes the bundle of one case to `write` (called with whole lines, in order).
 * Segments are copied as stored, whatever they contain: the bundle records,
 * it does not judge. The keys are the verifier's trusted keys.
 */
export async function exportCustodyBundle(options: {
  log: AppendLog;
  checkpoints: CheckpointStore | null;
  trustedKeys: PublicKeyRecord[];
  caseId: string;
  write: (line: string) => Promise<void>;
  now?: () => Date;
  abortSignal?: AbortSignal;
}): Promise<{ parts: PartRecord[] }> {
  const caseId = assertValidId('case', options.caseId);
  const now = options.now?.() ?? new Date();
  const parts: PartRecord[] = [];
  await options.write(JSON.stringify({ type: 'header', format: BUNDLE_FORMAT, caseId, createdAt: now.toISOString() }) + '\n');
  const emit = async (kind: PartKind, name: string, source: AsyncIterable<Buffer>) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    /** Emits whole CHUNK_BYTES lines (and, at the end, the rest), so no line outgrows a chunk whatever the source yields. */
    const flush = async (all: boolean) => {
      if (pendingBytes === 0) return;
      let data = Buffer.concat(pending, pendingBytes);
      while (data.length >= CHUNK_BYTES || (all && data.length > 0)) {
        const piece = data.subarray(0, CHUNK_BYTES);
        data = data.subarray(piece.length);
        await options.write(JSON.stringify({ type: 'chunk', kind, name, data: piece.toString('base64') }) + '\n');
      }
      pending = data.length > 0 ? [data] : [];
      pendingBytes = data.length;
    };
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= CHUNK_BYTES) await flush(false);
    }
    await flush(true);
    parts.push({ kind, name, bytes, sha256: hash.digest('hex') });
  };
  const once = (b: Buffer) => (async function* () {
    yield b;
  })();
  await emit('keys', 'keys.json', once(Buffer.from(JSON.stringify(publicKeyBundle(options.trustedKeys, now), null, 2) + '\n', 'utf8')));
  const cp = options.checkpoints ? await options.checkpoints.read(caseId, { abortSignal: options.abortSignal }) : null;
  if (cp) await emit('checkpoints', `checkpoints/${caseId}.jsonl`, once(cp));
  for await (const item of options.log.list(casePrefix(caseId), { abortSignal: options.abortSignal })) {
    if (!parseSegmentName(caseId, item.name)) continue;
    const body = await options.log.read(item.name, { abortSignal: options.abortSignal });
    await emit('segment', item.name, body as AsyncIterable<Buffer>);
  }
  if (!parts.some((p) => p.kind !== 'keys')) throw new ExhibitError('not-found', `case ${caseId} has no custody logs and no checkpoints to export`);
  await options.write(JSON.stringify({ type: 'manifest', format: BUNDLE_FORMAT, caseId, parts }) + '\n');
  return { parts };
}

function bad(detail: string): ExhibitError {
  return new ExhibitError('invalid-argument', `not a valid custody bundle: ${detail}`);
}

/**
 * Reads a bundle and checks it is whole: every part listed in the closing
 * manifest, with its size and SHA-256, and nothing that the manifest does not
 * list. Throws invalid-argument for a bundle that is not whole (cut short,
 * parts added or changed in transit); what the parts say is for verification.
 */
export function readCustodyBundle(bytes: Buffer): CustodyBundle {
  if (bytes.length > MAX_BUNDLE_BYTES) throw bad(`larger than ${MAX_BUNDLE_BYTES} bytes`);
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) throw bad('the last line has no newline (cut short)');
  // Line by line from the buffer: a whole bundle may be longer than a JavaScript string can be.
  const lines: string[] = [];
  for (let start = 0; start < bytes.length; ) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl - start > MAX_LINE_BYTES) throw bad(`line ${lines.length + 1} is longer than ${MAX_LINE_BYTES} bytes`);
    lines.push(bytes.toString('utf8', start, nl));
    start = nl + 1;
  }
  const json = (line: string, n: number): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      throw bad(`line ${n} is not JSON`);
    }
  };
  const header = headerSchema.safeParse(json(lines[0] ?? '', 1));
  if (!header.success) throw bad('it does not begin with a custody bundle header');
  const caseId = assertValidId('case', header.data.caseId);
  const last = lines.length > 1 ? manifestSchema.safeParse(json(lines[lines.length - 1]!, lines.length)) : null;
  if (!last?.success) throw bad('it has no closing manifest (cut short?)');
  if (last.data.caseId !== caseId) throw bad('the manifest names another case');
  const data = new Map<string, { kind: PartKind; chunks: Buffer[] }>();
  for (let i = 1; i < lines.length - 1; i++) {
    const chunk = chunkSchema.safeParse(json(lines[i]!, i + 1));
    if (!chunk.success) throw bad(`line ${i + 1} is not a bundle chunk`);
    const key = `${chunk.data.kind}:${chunk.data.name}`;
    const part = data.get(key) ?? { kind: chunk.data.kind, chunks: [] };
    part.chunks.push(Buffer.from(chunk.data.data, 'base64'));
    data.set(key, part);
  }
  const listed = new Set<string>();
  const bundle: CustodyBundle = { caseId, createdAt: header.data.createdAt, keys: [], checkpoints: null, segments: new Map() };
  let keys: Buffer | null = null;
  for (const p of last.data.parts) {
    const key = `${p.kind}:${p.name}`;
    if (listed.has(key)) throw bad(`the manifest lists ${p.name} twice`);
    listed.add(key);
    const body = Buffer.concat(data.get(key)?.chunks ?? []);
    const sha256 = createHash('sha256').update(body).digest('hex');
    if (body.length !== p.bytes || sha256 !== p.sha256) {
      throw bad(`${p.kind} ${p.name} does not match the manifest (${body.length} bytes, SHA-256 ${sha256}; the manifest says ${p.bytes} bytes, ${p.sha256})`);
    }
    if (p.kind === 'keys') keys = body;
    else if (p.kind === 'checkpoints') bundle.checkpoints = body;
    else if (parseSegmentName(caseId, p.name)) bundle.segments.set(p.name, body);
    else throw bad(`${p.name} is not a segment of case ${caseId}`);
  }
  for (const key of data.keys()) if (!listed.has(key)) throw bad(`${key.slice(key.indexOf(':') + 1)} is in the bundle but not in its manifest`);
  if (!keys) throw bad('it carries no public keys');
  try {
    bundle.keys = parseTrustedKeys(JSON.parse(keys.toString('utf8')));
  } catch {
    throw bad('its public keys are not a key set');
  }
  return bundle;
}

/** The bundle's segments behind the AppendLog port, read-only, so the same verifier runs on them. */
function bundleAppendLog(bundle: CustodyBundle): AppendLog {
  const head = (name: string): AppendLogHead | null => {
    const b = bundle.segments.get(name);
    return b ? { length: b.length, etag: `"bundle-${b.length}"`, blockCount: 0 } : null;
  };
  const readOnly = (): never => {
    throw new ExhibitError('forbidden', 'a custody bundle is read-only');
  };
  return {
    container: 'bundle',
    head: async (name) => head(name),
    create: async () => readOnly(),
    append: async () => readOnly(),
    putDocument: async () => readOnly(),
    getDocument: async () => null,
    async read(name, o = {}) {
      const b = bundle.segments.get(name);
      if (!b) throw new ExhibitError('not-found', `${name} is not in the bundle`);
      const start = o.offset ?? 0;
      return Readable.from([b.subarray(start, o.count === undefined ? undefined : start + o.count)]);
    },
    async *list(prefix) {
      for (const name of [...bundle.segments.keys()].sort()) {
        if (name.startsWith(prefix)) yield { name, length: bundle.segments.get(name)!.length, etag: head(name)!.etag };
      }
    },
  };
}

/**
 * Verifies a bundle with nothing else: its logs against its checkpoints and
 * keys. The keys come from the bundle unless the verifier brings its own
 * (`trustedKeys`), which it should compare against, or use, the key ids the
 * force published: a bundle alone proves consistency with its own keys.
 */
export async function verifyCustodyBundle(bytes: Buffer, options: { trustedKeys?: PublicKeyRecord[]; evidenceId?: string; now?: () => Date } = {}): Promise<CustodyVerification> {
  const bundle = readCustodyBundle(bytes);
  const checkpoints: CheckpointStore = {
    location: 'bundle',
    append: async () => {
      throw new ExhibitError('forbidden', 'a custody bundle is read-only');
    },
    read: async (caseId) => (caseId === bundle.caseId ? bundle.checkpoints : null),
  };
  const result = await verifyCustody({
    log: bundleAppendLog(bundle),
    blobs: null,
    sql: null,
    checkpoints,
    caseId: bundle.caseId,
    ...(options.evidenceId ? { evidenceId: options.evidenceId } : {}),
    containers: { evidence: 'evidence' },
    trustedKeys: options.trustedKeys ?? bundle.keys,
    ...(options.now ? { now: options.now } : {}),
  });
  // Keys the bundle brought vouch only for the bundle: never reported as trusted.
  if (!options.trustedKeys) return { ...result, keys: { ...result.keys, source: 'bundle' } };
  // Keys the bundle brought that the verifier did not trust are named, like keys found beside the logs.
  for (const k of bundle.keys) {
    if (!options.trustedKeys.some((t) => t.keyId === k.keyId)) result.keys.rejected.push({ keyId: k.keyId, reason: 'untrusted: carried only by the bundle' });
  }
  return result;
}
