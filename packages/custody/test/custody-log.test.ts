import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENESIS_HASH, parseEntryText, publicKeyOf, readKeysDocument, segmentName, UNTRUSTED_PUBLISHED_KEY, type CustodyEntry } from '../src/index.js';
import { custodyFixture, stageEvent, type CustodyFixture } from './custody-fixture.js';

let fx: CustodyFixture;
beforeAll(async () => {
  fx = await custodyFixture();
});
afterAll(async () => {
  await fx?.close();
});

async function entriesOf(name: string): Promise<CustodyEntry[]> {
  return (await fx.readLog(name)).map((line) => {
    const parsed = parseEntryText(line);
    if (!parsed.ok) throw new Error(parsed.detail);
    return parsed.entry;
  });
}

describe('custody log writer', () => {
  it('writes a signed, chained log with provenance and an index copy, and publishes the key', async () => {
    const log = fx.newLog();
    const sha256 = createHash('sha256').update('evidence bytes').digest('hex');
    await log.record({
      caseId: 'C1',
      evidenceId: 'E1',
      action: 'integrity-verified',
      actor: 'service:exhibit-pipeline',
      subject: { blobName: 'C1/E1/disk.zip', fileId: 'f1', sha256 },
      details: { at: new Date('2024-05-01T10:00:00Z'), ignored: undefined },
      tools: [{ name: 'node:crypto/openssl', version: '3.0.15' }],
      eventKey: 'hash:C1/E1/disk.zip:"0x1"',
    });
    await log.record({ caseId: 'C1', evidenceId: 'E1', action: 'view', actor: 'alice', details: { fileId: 'f1' } });

    const lines = await fx.readLog(segmentName('C1', 'E1', 0));
    const entries = await entriesOf(segmentName('C1', 'E1', 0));
    expect(entries.map((e) => [e.seq, e.action])).toEqual([
      [0, 'segment-start'],
      [1, 'integrity-verified'],
      [2, 'view'],
    ]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    expect(entries[1]!.prevHash).toBe(createHash('sha256').update(lines[0]!).digest('hex'));
    expect(entries[2]!.prevHash).toBe(createHash('sha256').update(lines[1]!).digest('hex'));
    expect(entries[1]).toMatchObject({
      subject: { caseId: 'C1', evidenceId: 'E1', blobName: 'C1/E1/disk.zip', fileId: 'f1', sha256 },
      tools: [{ name: 'node:crypto/openssl', version: '3.0.15' }],
      details: { at: '2024-05-01T10:00:00.000Z' },
      keyId: fx.signer.keyId,
      alg: 'Ed25519',
    });
    expect(entries[0]!.details).toMatchObject({ segment: 0, previousSegment: null, key: { keyId: fx.signer.keyId } });

    const { rows } = await fx.sql.query<{ seq: number; action: string; entry_hash: string; event_key: string | null }>(
      `SELECT seq, action, entry_hash, event_key FROM custody_entries WHERE case_id = 'C1' AND evidence_id = 'E1' ORDER BY seq`,
    );
    expect(rows.map((r) => [r.seq, r.action, r.entry_hash])).toEqual(
      lines.map((l, i) => [i, entries[i]!.action, createHash('sha256').update(l).digest('hex')]),
    );
    const keys = await readKeysDocument(fx.appendLog, 'C1');
    expect(keys?.document.keys.map((k) => k.keyId)).toEqual([fx.signer.keyId]);

    // Provenance from the index copy: what was recorded about this file and this content.
    const aboutFile = await log.entries({ caseId: 'C1', fileId: 'f1' });
    expect(aboutFile.map((e) => [e.seq, e.action, e.tools])).toEqual([[1, 'integrity-verified', [{ name: 'node:crypto/openssl', version: '3.0.15' }]]]);
    expect((await log.entries({ caseId: 'C1', sha256 })).map((e) => e.entryHash)).toEqual([createHash('sha256').update(lines[1]!).digest('hex')]);
    expect((await log.entries({ caseId: 'C1', evidenceId: 'E1' })).map((e) => e.action)).toEqual(['segment-start', 'integrity-verified', 'view']);

    const verification = await log.verify({ caseId: 'C1', evidenceId: 'E1', checkEvidence: false });
    expect(verification.ok).toBe(true);
    expect(verification.items[0]).toMatchObject({ verifiedEntries: 3, lastSeq: 2, firstBreak: null, indexEntries: 3 });
  });

  it('records an event with a known eventKey once, however often and by whichever writer it is redelivered', async () => {
    const a = fx.newLog();
    const b = fx.newLog();
    const event = stageEvent('C2', 'E1', 1);
    await a.record(event);
    await a.record(event);
    await b.record(event);
    await Promise.all([a.record(event), b.record(event), fx.newLog().record(event)]);
    const entries = await entriesOf(segmentName('C2', 'E1', 0));
    expect(entries.filter((e) => e.eventKey === event.eventKey)).toHaveLength(1);
    expect(entries).toHaveLength(2);
  });

  it('catches the index copy up after a crash between append and index row, and still records an eventKey once', async () => {
    const log = fx.newLog();
    for (let n = 1; n <= 4; n++) await log.record(stageEvent('C3', 'E1', n));
    // The crash: entries 3 and 4 reached the blob, their index rows did not.
    await fx.sql.query(`DELETE FROM custody_entries WHERE case_id = 'C3' AND evidence_id = 'E1' AND seq >= 3`);
    const afterRestart = fx.newLog();
    await afterRestart.record(stageEvent('C3', 'E1', 4));
    await afterRestart.record(stageEvent('C3', 'E1', 5));
    const entries = await entriesOf(segmentName('C3', 'E1', 0));
    expect(entries.map((e) => e.eventKey ?? null)).toEqual([null, 'identify:f1', 'identify:f2', 'identify:f3', 'identify:f4', 'identify:f5']);
    const { rows } = await fx.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM custody_entries WHERE case_id = 'C3'`);
    expect(rows[0]!.n).toBe(6);
    expect((await afterRestart.verify({ caseId: 'C3', checkEvidence: false })).ok).toBe(true);
  });

  it('keeps every entry of 8 concurrent writers x 25 appends in one unforked chain', async () => {
    const writers = Array.from({ length: 8 }, () => fx.newLog());
    await Promise.all(
      writers.map(async (w, i) => {
        for (let j = 0; j < 25; j++) await w.record(stageEvent('C4', 'E1', i * 100 + j));
      }),
    );
    const entries = await entriesOf(segmentName('C4', 'E1', 0));
    expect(entries).toHaveLength(201);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 201 }, (_, i) => i));
    const keys = new Set(entries.slice(1).map((e) => e.eventKey));
    expect(keys.size).toBe(200);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 25; j++) expect(keys.has(`identify:f${i * 100 + j}`)).toBe(true);
    const verification = await writers[0]!.verify({ caseId: 'C4', checkEvidence: false });
    expect(verification.items[0]).toMatchObject({ ok: true, verifiedEntries: 201, indexEntries: 201 });
  });

  it('rolls over to chained segments and verifies across them, also with concurrent writers', async () => {
    const log = fx.newLog({ rolloverEntries: 10 });
    for (let n = 0; n < 25; n++) await log.record(stageEvent('C5', 'E1', n));
    const segments = [0, 1, 2].map((s) => segmentName('C5', 'E1', s));
    const all = await Promise.all(segments.map(entriesOf));
    expect(all.map((s) => s.length)).toEqual([10, 10, 8]);
    const lastOfFirst = (await fx.readLog(segments[0]!)).at(-1)!;
    expect(all[1]![0]).toMatchObject({
      action: 'segment-start',
      seq: 10,
      prevHash: createHash('sha256').update(lastOfFirst).digest('hex'),
      details: { segment: 1, previousSegment: segments[0], previousHash: createHash('sha256').update(lastOfFirst).digest('hex') },
    });
    expect((await log.verify({ caseId: 'C5', checkEvidence: false })).items[0]).toMatchObject({ ok: true, verifiedEntries: 28, lastSeq: 27 });

    // Regression: a writer that lost a race at a full segment and found its successor full too appended to the successor (a fork).
    const writers = Array.from({ length: 4 }, () => fx.newLog({ rolloverEntries: 10 }));
    await Promise.all(writers.map(async (w, i) => {
      for (let j = 0; j < 15; j++) await w.record(stageEvent('C5', 'E2', i * 100 + j));
    }));
    const verification = await writers[0]!.verify({ caseId: 'C5', evidenceId: 'E2', checkEvidence: false });
    const item = verification.items[0]!;
    expect(item.firstBreak).toBeNull();
    // 60 events plus one segment-start per segment of at most 10 entries.
    expect(item.segments.every((s) => s.entries <= 10)).toBe(true);
    expect(item.verifiedEntries).toBe(60 + item.segments.length);
  });

  it('publishes a second key when the signing key changes; entries under both verify once both are trusted', async () => {
    const first = fx.newLog();
    await first.record(stageEvent('C6', 'E1', 1));
    const rotated = await fx.newSigner();
    const second = fx.newLog({ signer: rotated });
    await second.record(stageEvent('C6', 'E1', 2));
    const keys = await readKeysDocument(fx.appendLog, 'C6');
    expect(keys?.document.keys.map((k) => k.keyId).sort()).toEqual([fx.signer.keyId, rotated.keyId].sort());
    // Published beside the logs is not trusted: rotation is an explicit act (the pinned set, Key Vault's versions).
    const unpinned = await first.verify({ caseId: 'C6', checkEvidence: false });
    expect(unpinned.ok).toBe(false);
    expect(unpinned.items[0]!.firstBreak).toMatchObject({ reason: 'unknown-key', seq: 2 });
    expect(unpinned.keys.rejected).toContainEqual({ keyId: rotated.keyId, reason: UNTRUSTED_PUBLISHED_KEY });
    const pinned = fx.newLog({ trustedKeys: [publicKeyOf(fx.signer), publicKeyOf(rotated)] });
    const verification = await pinned.verify({ caseId: 'C6', checkEvidence: false });
    expect(verification.ok).toBe(true);
    expect(verification.items[0]!.keyIds.sort()).toEqual([fx.signer.keyId, rotated.keyId].sort());
  });

  it('refuses events it cannot record faithfully', async () => {
    const log = fx.newLog();
    await expect(log.record({ ...stageEvent('C7', 'E1', 1), caseId: '../etc' })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(log.record({ ...stageEvent('C7', 'E1', 1), action: 'segment-start' as never })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(log.record({ ...stageEvent('C7', 'E1', 1), details: { n: 1n } })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(log.record({ ...stageEvent('C7', 'E1', 1), details: { blob: 'x'.repeat(70_000) } })).rejects.toMatchObject({ code: 'limit-exceeded' });
  });
});
