import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addedKeyDocumentName,
  encodeEntry,
  hashEntryText,
  parseEntryText,
  publicKeyOf,
  segmentName,
  signingBytes,
  verifyCustody,
  type CustodyEntry,
  type Signer,
} from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

const CASE = 'T1';
let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});

const parse = (line: string): CustodyEntry => {
  const p = parseEntryText(line);
  if (!p.ok) throw new Error(p.detail);
  return p.entry;
};
const unsigned = (e: CustodyEntry) => {
  const { signature: _s, ...rest } = e;
  return rest;
};
async function signed(e: CustodyEntry, signer: Signer): Promise<string> {
  const u = { ...unsigned(e), keyId: signer.keyId, alg: signer.algorithm };
  const signature = Buffer.from(await signer.sign(signingBytes(u))).toString('base64url');
  return encodeEntry({ ...u, signature }).toString('utf8').trimEnd();
}
const encode = (e: CustodyEntry) => encodeEntry(e).toString('utf8').trimEnd();

/**
 * A log as the pipeline writes it: seq 0 segment-start, 1 received,
 * 2 integrity-verified (with the evidence blob's SHA-256), 3-8 stage events.
 */
async function seed(evidenceId: string): Promise<{ name: string; lines: string[]; blobName: string }> {
  const blobName = `${CASE}/${evidenceId}/disk.img`;
  const bytes = randomBytes(4096);
  await fx.blobs.upload({ container: fx.containers.evidence, name: blobName }, bytes);
  const log = fx.newLog();
  await log.record({ caseId: CASE, evidenceId, action: 'received', actor: 'service:exhibit-pipeline', subject: { blobName }, details: { size: bytes.length }, eventKey: `received:${blobName}` });
  await log.record({
    caseId: CASE,
    evidenceId,
    action: 'integrity-verified',
    actor: 'service:exhibit-pipeline',
    subject: { blobName, sha256: createHash('sha256').update(bytes).digest('hex') },
    details: { integrity: 'verified' },
    tools: [{ name: 'node:crypto/openssl', version: process.versions.openssl ?? 'unknown' }],
    eventKey: `hash:${blobName}`,
  });
  for (let n = 3; n <= 8; n++) await log.record(stageEvent(CASE, evidenceId, n));
  const name = segmentName(CASE, evidenceId, 0);
  return { name, lines: await fx.readLog(name), blobName };
}

async function verifyOne(evidenceId: string, extra: Partial<Parameters<typeof verifyCustody>[0]> = {}) {
  const v = await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, evidenceId, containers: fx.containers, ...extra });
  return v.items[0]!;
}

describe('custody verification finds tampering and points at the entry', () => {
  it('passes an untouched log and re-hashes its evidence', async () => {
    const { blobName } = await seed('intact');
    const item = await verifyOne('intact');
    expect(item).toMatchObject({ ok: true, firstBreak: null, verifiedEntries: 9, lastSeq: 8, indexEntries: 9 });
    expect(item.evidence).toEqual([expect.objectContaining({ blobName, seq: 2, ok: true })]);
  });

  it('edited field: bad-signature at that entry', async () => {
    const { name, lines } = await seed('edited');
    lines[3] = encode({ ...parse(lines[3]!), actor: 'mallory' });
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('edited')).firstBreak).toMatchObject({ reason: 'bad-signature', seq: 3, segment: name, line: 4 });
  });

  it('deleted entry: seq-gap where it was', async () => {
    const { name, lines } = await seed('deleted');
    lines.splice(3, 1);
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('deleted')).firstBreak).toMatchObject({ reason: 'seq-gap', seq: 4, expectedSeq: 3 });
  });

  it('two entries swapped: reordered', async () => {
    const { name, lines } = await seed('reordered');
    [lines[3], lines[4]] = [lines[4]!, lines[3]!];
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('reordered')).firstBreak).toMatchObject({ reason: 'reordered', seq: 4, expectedSeq: 3, line: 4 });
  });

  it('forged entry inserted by someone holding the signing key: the index copy exposes it', async () => {
    const { name, lines } = await seed('inserted');
    const forged = { ...parse(lines[3]!), actor: 'alice', action: 'download' as const, details: { note: 'never happened' }, prevHash: hashEntryText(lines[2]!) };
    delete forged.eventKey;
    lines.splice(3, 0, await signed(forged, fx.signer));
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('inserted')).firstBreak).toMatchObject({ reason: 'inserted', seq: 3, line: 4 });
  });

  it('forged entry signed with another key: unknown-key', async () => {
    const { name, lines } = await seed('forged-key');
    const mallory = await fx.newSigner();
    lines.splice(3, 0, await signed({ ...parse(lines[3]!), actor: 'mallory' }, mallory));
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('forged-key')).firstBreak).toMatchObject({ reason: 'unknown-key', seq: 3 });
  });

  it('truncated log: the index copy has entries the log lost', async () => {
    const { name, lines } = await seed('truncated');
    await fx.rewriteLog(name, lines.slice(0, 7));
    expect((await verifyOne('truncated')).firstBreak).toMatchObject({ reason: 'truncated', expectedSeq: 7 });
    // Without the index copy a clean cut at the end cannot be seen: that is what the copy is for.
    expect((await verifyOne('truncated', { sql: null })).ok).toBe(true);
  });

  it('signatures swapped between two entries: bad-signature at the first', async () => {
    const { name, lines } = await seed('swapped-sig');
    const a = parse(lines[3]!);
    const b = parse(lines[4]!);
    lines[3] = encode({ ...a, signature: b.signature });
    lines[4] = encode({ ...b, signature: a.signature });
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('swapped-sig')).firstBreak).toMatchObject({ reason: 'bad-signature', seq: 3 });
  });

  it('whole log re-signed with a substituted key', async () => {
    const { name, lines } = await seed('rekeyed');
    const mallory = await fx.newSigner();
    const out: string[] = [];
    let prevHash = '0'.repeat(64);
    for (const line of lines) {
      const e = parse(line);
      const details = e.action === 'segment-start' ? { ...e.details, key: publicKeyOf(mallory) } : e.details;
      const text = await signed({ ...e, details, prevHash }, mallory);
      out.push(text);
      prevHash = hashEntryText(text);
    }
    await fx.rewriteLog(name, out);
    // Not published: nobody trusts the key.
    expect((await verifyOne('rekeyed')).firstBreak).toMatchObject({ reason: 'unknown-key', seq: 0 });
    // Published next to the real key (storage access suffices): the index copy still disagrees.
    await fx.appendLog.putDocument(addedKeyDocumentName(CASE, mallory.keyId), Buffer.from(JSON.stringify({ ...publicKeyOf(mallory), addedAt: new Date().toISOString() })), { ifNoneMatch: '*' });
    expect((await verifyOne('rekeyed')).firstBreak).toMatchObject({ reason: 'index-mismatch', seq: 0 });
    // Verified offline against the key the examiner was given: unknown-key, index or not.
    expect((await verifyOne('rekeyed', { sql: null, trustedKeys: [publicKeyOf(fx.signer)] })).firstBreak).toMatchObject({ reason: 'unknown-key', seq: 0 });
  });

  it('evidence blob modified after hashing: evidence-modified at the entry that recorded the hash', async () => {
    const { blobName } = await seed('evidence');
    await fx.rawEvidence.getBlockBlobClient(blobName).upload('tampered', 8);
    const item = await verifyOne('evidence');
    expect(item.firstBreak).toMatchObject({ reason: 'evidence-modified', seq: 2 });
    expect(item.evidence[0]).toMatchObject({ ok: false, actualSha256: createHash('sha256').update('tampered').digest('hex') });
  });

  it('a line that is not canonical JSON, or not JSON at all', async () => {
    const { name, lines } = await seed('garbled');
    const original = [...lines];
    lines[5] = lines[5]!.replace('{', '{ ');
    await fx.rewriteLog(name, lines);
    expect((await verifyOne('garbled')).firstBreak).toMatchObject({ reason: 'non-canonical', line: 6 });
    original[5] = original[5]!.slice(0, 40);
    await fx.rewriteLog(name, original);
    expect((await verifyOne('garbled')).firstBreak).toMatchObject({ reason: 'unparseable', line: 6 });
  });

  it('a missing middle segment breaks the segment chain', async () => {
    const log = fx.newLog({ rolloverEntries: 4 });
    for (let n = 1; n <= 10; n++) await log.record(stageEvent(CASE, 'segments', n));
    expect((await verifyOne('segments', { checkEvidence: false })).ok).toBe(true);
    await fx.raw.getBlobClient(segmentName(CASE, 'segments', 1)).delete();
    expect((await verifyOne('segments')).firstBreak).toMatchObject({ reason: 'segment-chain', segment: segmentName(CASE, 'segments', 2) });
  });

  it('a case report names the broken item and passes the intact ones', async () => {
    const v = await verifyCustody({ blobs: fx.blobs, log: fx.appendLog, sql: fx.sql, caseId: CASE, containers: fx.containers, checkEvidence: false });
    expect(v.ok).toBe(false);
    const byId = new Map(v.items.map((i) => [i.evidenceId, i]));
    expect(byId.get('intact')?.ok).toBe(true);
    expect(byId.get('edited')?.firstBreak?.reason).toBe('bad-signature');
    expect(v.keys.accepted.map((k) => k.keyId)).toContain(fx.signer.keyId);
  });
});
