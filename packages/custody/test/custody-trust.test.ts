import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addedKeyDocumentName,
  appendLogCheckpointStore,
  createFileCheckpointStore,
  encodeEntry,
  exportCustodyBundle,
  hashEntryText,
  parseEntryText,
  publicKeyOf,
  renderVerificationText,
  segmentName,
  signingBytes,
  UNTRUSTED_PUBLISHED_KEY,
  verifyCustody,
  verifyCustodyBundle,
  type CheckpointStore,
  type CustodyEntry,
  type CustodyLog,
  type Signer,
} from '../src/index.js';
import { createAzureAppendLog } from '@exhibit/storage';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

/**
 * Pinned trust and checkpoints: what someone who can write the custody
 * container can no longer hide from an offline verifier.
 */
const CASE = 'TRUST1';
let fx: CustodyFixture;
let store: CheckpointStore;
let storeDir: string;
let log: CustodyLog;

beforeAll(async () => {
  fx = await custodyFixture();
  storeDir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-checkpoints-'));
  store = createFileCheckpointStore(storeDir);
  log = fx.newLog({ checkpoints: store });
});
afterAll(async () => {
  await fx?.close();
});

const parse = (line: string): CustodyEntry => {
  const p = parseEntryText(line);
  if (!p.ok) throw new Error(p.detail);
  return p.entry;
};
async function signed(e: CustodyEntry, signer: Signer): Promise<string> {
  const { signature: _s, ...rest } = e;
  const u = { ...rest, keyId: signer.keyId, alg: signer.algorithm };
  const signature = Buffer.from(await signer.sign(signingBytes(u))).toString('base64url');
  return encodeEntry({ ...u, signature }).toString('utf8').trimEnd();
}

async function seed(evidenceId: string, entries = 6): Promise<{ name: string; lines: string[] }> {
  for (let n = 1; n < entries; n++) await log.record(stageEvent(CASE, evidenceId, n));
  const name = segmentName(CASE, evidenceId, 0);
  return { name, lines: await fx.readLog(name) };
}

/** Offline: no index copy, only storage, the pinned keys and the checkpoints. */
const offline = (evidenceId?: string) =>
  verifyCustody({
    blobs: fx.blobs,
    log: fx.appendLog,
    sql: null,
    caseId: CASE,
    ...(evidenceId ? { evidenceId } : {}),
    containers: fx.containers,
    trustedKeys: [publicKeyOf(fx.signer)],
    checkpoints: store,
    checkEvidence: false,
  });

async function resignAll(lines: string[], signer: Signer): Promise<string[]> {
  const out: string[] = [];
  let prevHash = '0'.repeat(64);
  for (const line of lines) {
    const e = parse(line);
    const details = e.action === 'segment-start' ? { ...e.details, key: publicKeyOf(signer) } : e.details;
    const text = await signed({ ...e, details, prevHash }, signer);
    out.push(text);
    prevHash = hashEntryText(text);
  }
  return out;
}

describe('pinned trust', () => {
  it('a key added beside the logs is reported untrusted, and entries signed with it break as unknown-key (API and offline)', async () => {
    const { name, lines } = await seed('added-key');
    const mallory = await fx.newSigner();
    await fx.appendLog.putDocument(addedKeyDocumentName(CASE, mallory.keyId), Buffer.from(JSON.stringify({ ...publicKeyOf(mallory), addedAt: new Date().toISOString() })), { ifNoneMatch: '*' });
    // An extra entry at the end, signed with the added key and chained correctly.
    const last = parse(lines.at(-1)!);
    const forged = { ...last, seq: last.seq + 1, actor: 'mallory', prevHash: hashEntryText(lines.at(-1)!) };
    delete forged.eventKey;
    await fx.rewriteLog(name, [...lines, await signed(forged, mallory)]);

    for (const v of [await log.verify({ caseId: CASE, evidenceId: 'added-key', checkEvidence: false }), await offline('added-key')]) {
      expect(v.keys.source).toBe('trusted');
      expect(v.keys.accepted.map((k) => k.keyId)).toEqual([fx.signer.keyId]);
      expect(v.keys.rejected).toContainEqual({ keyId: mallory.keyId, reason: UNTRUSTED_PUBLISHED_KEY });
      expect(v.items[0]!.firstBreak).toMatchObject({ reason: 'unknown-key', seq: last.seq + 1 });
    }
  });

  it('a whole log re-signed with an attacker key that is published beside it is detected offline', async () => {
    const { name, lines } = await seed('resigned');
    const mallory = await fx.newSigner();
    await fx.rewriteLog(name, await resignAll(lines, mallory));
    await fx.appendLog.putDocument(addedKeyDocumentName(CASE, mallory.keyId), Buffer.from(JSON.stringify({ ...publicKeyOf(mallory), addedAt: new Date().toISOString() })), { ifNoneMatch: '*' });
    const v = await offline('resigned');
    expect(v.ok).toBe(false);
    expect(v.items[0]!.firstBreak).toMatchObject({ reason: 'unknown-key', seq: 0 });
    expect(v.keys.rejected.map((k) => k.keyId)).toContain(mallory.keyId);
    // The old behaviour, trusting keys.json, would have passed it: that is what pinning stops.
    const legacy = await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: null, caseId: CASE, evidenceId: 'resigned', containers: fx.containers, checkEvidence: false });
    expect(legacy.ok).toBe(true);
  });
});

describe('signed checkpoints', () => {
  it('are written only for heads that moved (idempotent)', async () => {
    await seed('cp-idem', 3);
    const first = await log.checkpoint({ caseId: CASE });
    expect(first.written.flatMap((w) => w.evidenceIds)).toContain('cp-idem');
    const bytes = await readFile(path.join(storeDir, `${CASE}.jsonl`));
    expect((await log.checkpoint({ caseId: CASE })).checkpoints).toBe(0);
    expect(await readFile(path.join(storeDir, `${CASE}.jsonl`))).toEqual(bytes);
    await log.record(stageEvent(CASE, 'cp-idem', 99));
    const again = await log.checkpoint({ caseId: CASE });
    expect(again.written).toEqual([{ caseId: CASE, evidenceIds: ['cp-idem'] }]);
    const v = await offline('cp-idem');
    expect(v.ok).toBe(true);
    expect(v.items[0]!.checkpoint).toMatchObject({ entries: 4, lastSeq: 3 });
  });

  it('are written for the case when processing completes', async () => {
    await seed('cp-done', 2);
    await log.record({ caseId: CASE, evidenceId: 'cp-done', action: 'processing-complete', actor: 'service:exhibit-pipeline', details: {} });
    const v = await offline('cp-done');
    expect(v.items[0]!.checkpoint).toMatchObject({ entries: 3, lastSeq: 2 });
    expect((await log.checkpoint({ caseId: CASE })).written.flatMap((w) => w.evidenceIds)).not.toContain('cp-done');
  });

  it('a truncated tail is detected offline from a checkpoint', async () => {
    const { name, lines } = await seed('cp-trunc');
    await log.checkpoint({ caseId: CASE });
    await fx.rewriteLog(name, lines.slice(0, 4));
    const v = await offline('cp-trunc');
    expect(v.items[0]!.firstBreak).toMatchObject({ reason: 'truncated', expectedSeq: 4 });
    expect(v.items[0]!.firstBreak!.detail).toMatch(/records 6 entries \(seq 4-5 missing/);
  });

  it('a deleted log is detected offline from a checkpoint, in a case-wide verify too', async () => {
    const { name } = await seed('cp-deleted');
    await log.checkpoint({ caseId: CASE });
    await fx.raw.getBlobClient(name).delete();
    expect((await offline('cp-deleted')).items[0]!.firstBreak).toMatchObject({ reason: 'missing-log' });
    const all = await offline();
    expect(all.items.find((i) => i.evidenceId === 'cp-deleted')?.firstBreak?.reason).toBe('missing-log');
  });

  it('a log rewritten with the same number of entries differs from its checkpoint', async () => {
    const { name, lines } = await seed('cp-rewrite');
    await log.checkpoint({ caseId: CASE });
    // Even with the signing key (e.g. stolen), the rewritten head does not match what was checkpointed.
    const changed = [...lines];
    const out: string[] = changed.slice(0, 3);
    let prevHash = hashEntryText(out.at(-1)!);
    for (const line of changed.slice(3)) {
      const text = await signed({ ...parse(line), actor: 'mallory', prevHash }, fx.signer);
      out.push(text);
      prevHash = hashEntryText(text);
    }
    await fx.rewriteLog(name, out);
    expect((await offline('cp-rewrite')).items[0]!.firstBreak).toMatchObject({ reason: 'checkpoint-mismatch', seq: 5 });
  });

  it('a checkpoint added by someone else (untrusted key, or edited) is reported and fails the verification', async () => {
    await seed('cp-forged', 2);
    await log.checkpoint({ caseId: CASE });
    const text = (await readFile(path.join(storeDir, `${CASE}.jsonl`), 'utf8')).trimEnd().split('\n');
    const edited = JSON.parse(text.at(-1)!) as Record<string, unknown>;
    await store.append(CASE, Buffer.from(JSON.stringify({ ...edited, lastSeq: 7, entries: 8 }) + '\n'));
    const v = await offline('cp-forged');
    expect(v.ok).toBe(false);
    expect(v.checkpoints?.rejected).toContainEqual(expect.objectContaining({ evidenceId: 'cp-forged', reason: 'signature does not verify' }));
    // The forged checkpoint is not believed: the log itself still verifies.
    expect(v.items[0]!.ok).toBe(true);
  });
});

describe('checkpoints in an append blob (the Azure store)', () => {
  it('appends per case, and detects a deleted log from them', async () => {
    const blobLog = createAzureAppendLog({ connectionString: fx.connectionString, container: `${fx.containers.custody}-cp` });
    await blobLog.ensureContainer();
    const blobStore = appendLogCheckpointStore(blobLog);
    const azureLog = fx.newLog({ checkpoints: blobStore });
    for (let n = 1; n <= 3; n++) await azureLog.record(stageEvent('AZ1', 'E1', n));
    expect((await azureLog.checkpoint({ caseId: 'AZ1' })).checkpoints).toBe(1);
    await azureLog.record(stageEvent('AZ1', 'E1', 4));
    expect((await azureLog.checkpoint({ caseId: 'AZ1' })).checkpoints).toBe(1);
    expect((await blobStore.read('AZ1'))!.toString('utf8').trimEnd().split('\n')).toHaveLength(2);
    await fx.raw.getBlobClient(segmentName('AZ1', 'E1', 0)).delete();
    const v = await verifyCustody({ log: fx.appendLog, sql: null, caseId: 'AZ1', containers: fx.containers, trustedKeys: [publicKeyOf(fx.signer)], checkpoints: blobStore });
    expect(v.items).toEqual([expect.objectContaining({ evidenceId: 'E1', firstBreak: expect.objectContaining({ reason: 'missing-log', detail: expect.stringMatching(/records 5/) }) })]);
  });
});

describe('custody bundle', () => {
  const BCASE = 'BUNDLE1';
  let bundle: Buffer;

  beforeAll(async () => {
    for (const ev of ['E1', 'E2']) for (let n = 1; n <= 4; n++) await log.record(stageEvent(BCASE, ev, n));
    await log.checkpoint({ caseId: BCASE });
    const lines: string[] = [];
    await exportCustodyBundle({ log: fx.appendLog, checkpoints: store, trustedKeys: log.trustedKeys(), caseId: BCASE, write: async (l) => void lines.push(l) });
    bundle = Buffer.from(lines.join(''), 'utf8');
  });

  it('verifies with nothing else, and says evidence was not re-hashed', async () => {
    const v = await verifyCustodyBundle(bundle);
    expect(v).toMatchObject({ ok: true, caseId: BCASE, keys: { source: 'bundle' } });
    expect(v.items.map((i) => [i.evidenceId, i.verifiedEntries, i.checkpoint?.entries])).toEqual([
      ['E1', 5, 5],
      ['E2', 5, 5],
    ]);
    expect(v.notes?.join(' ')).toMatch(/not re-hashed/);
  });

  /** Rewrites one part of the bundle and its manifest entry consistently, as a careful forger would. */
  function forge(mutate: (parts: Map<string, Buffer>) => void): Buffer {
    const lines = bundle.toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const parts = new Map<string, Buffer>();
    for (const l of lines) if (l.type === 'chunk') parts.set(`${String(l.kind)}|${String(l.name)}`, Buffer.concat([parts.get(`${String(l.kind)}|${String(l.name)}`) ?? Buffer.alloc(0), Buffer.from(String(l.data), 'base64')]));
    mutate(parts);
    const out = [lines[0]];
    const manifest: Array<Record<string, unknown>> = [];
    for (const [key, body] of parts) {
      const [kind, name] = key.split('|') as [string, string];
      out.push({ type: 'chunk', kind, name, data: body.toString('base64') });
      manifest.push({ kind, name, bytes: body.length, sha256: hashBytes(body) });
    }
    out.push({ ...lines.at(-1)!, parts: manifest });
    return Buffer.from(out.map((l) => JSON.stringify(l) + '\n').join(''));
  }
  const hashBytes = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const segKey = (ev: string) => `segment|${segmentName(BCASE, ev, 0)}`;

  it('an edited line fails even when the manifest is recomputed', async () => {
    const forged = forge((parts) => {
      const text = parts.get(segKey('E1'))!.toString('utf8').replace('"identify"', '"unpack"');
      parts.set(segKey('E1'), Buffer.from(text));
    });
    const v = await verifyCustodyBundle(forged);
    expect(v.items.find((i) => i.evidenceId === 'E1')?.firstBreak?.reason).toBe('bad-signature');
  });

  it('a dropped tail fails: the checkpoint in the bundle says how long the log was', async () => {
    const forged = forge((parts) => {
      const lines = parts.get(segKey('E2'))!.toString('utf8').split('\n');
      parts.set(segKey('E2'), Buffer.from(lines.slice(0, 3).join('\n') + '\n'));
    });
    const v = await verifyCustodyBundle(forged);
    expect(v.items.find((i) => i.evidenceId === 'E2')?.firstBreak).toMatchObject({ reason: 'truncated', expectedSeq: 3 });
  });

  // Regression: without --keys the bundle's own keys were reported as source 'trusted' ("Keys (trusted): …" in
  // the report), so a bundle re-signed whole with a forger's key and carrying that key read as verified against
  // trusted keys; it verifies (consistency is all a bundle alone can show) but says whose keys those are.
  it('bundle-keys-reported-as-trusted', async () => {
    const mallory = await fx.newSigner();
    const own = await verifyCustodyBundle(bundle);
    expect(own.keys.source).toBe('bundle');
    expect(renderVerificationText(own)).toContain('Keys (bundle)');
    const withKeys = await verifyCustodyBundle(bundle, { trustedKeys: log.trustedKeys() });
    expect(withKeys).toMatchObject({ ok: true, keys: { source: 'trusted' } });
    const foreign = await verifyCustodyBundle(bundle, { trustedKeys: [publicKeyOf(mallory)] });
    expect(foreign.keys.source).toBe('trusted');
    expect(foreign.ok).toBe(false);
  });

  it('a swapped key fails, and an edit without a recomputed manifest is refused outright', async () => {
    const mallory = await fx.newSigner();
    const swapped = forge((parts) => parts.set('keys|keys.json', Buffer.from(JSON.stringify([publicKeyOf(mallory)]))));
    const v = await verifyCustodyBundle(swapped);
    expect(v.ok).toBe(false);
    expect(v.items[0]!.firstBreak?.reason).toBe('unknown-key');
    const cut = bundle.subarray(0, bundle.length - 10);
    await expect(verifyCustodyBundle(cut)).rejects.toThrow(/not a valid custody bundle/);
    const lines = bundle.toString('utf8').trimEnd().split('\n');
    const chunk = JSON.parse(lines[2]!) as { data: string };
    chunk.data = Buffer.from('x' + Buffer.from(chunk.data, 'base64').toString('latin1'), 'latin1').toString('base64');
    lines[2] = JSON.stringify(chunk);
    await expect(verifyCustodyBundle(Buffer.from(lines.join('\n') + '\n'))).rejects.toThrow(/does not match the manifest/);
    // A verifier who brings the force's published keys is not fooled by a whole re-signed bundle either.
    const other = await verifyCustodyBundle(bundle, { trustedKeys: [publicKeyOf(mallory)] });
    expect(other.ok).toBe(false);
    expect(other.keys.rejected).toContainEqual({ keyId: fx.signer.keyId, reason: 'untrusted: carried only by the bundle' });
  });
});
