import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustodyEvent, CustodyRecorder, IndexStore } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { HashSetStore } from '../src/hash-sets/hash-set-store.js';
import { hashesOf, member, newUpload, rootFile } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, postgresServer } from './targets.js';

const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hashset-custody-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: string): string {
  const f = path.join(dir, `set-${n++}.txt`);
  writeFileSync(f, content);
  return f;
}

/**
 * Keeps what would be written, once per event key, as the custody writer
 * does (packages/custody custody-writer: an entry whose key is already in
 * the log is not written again).
 */
function keyedRecorder(): CustodyRecorder & { entries: CustodyEvent[]; calls: number } {
  const keys = new Set<string>();
  const r = {
    entries: [] as CustodyEvent[],
    calls: 0,
    async record(event: CustodyEvent) {
      r.calls += 1;
      if (event.eventKey !== undefined) {
        if (keys.has(event.eventKey)) return;
        keys.add(event.eventKey);
      }
      r.entries.push(event);
    },
  };
  return r;
}

const BAD = hashesOf('seized.jpg');
const OTHER = hashesOf('other.jpg');
const filler = (count: number, salt: string) => Array.from({ length: count }, (_, i) => hashesOf(`${salt}${i}`).sha256).join('\n');

describe.each([pgliteMemory(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('re-match custody on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    // Two processed cases: the same known-bad picture in both, and in one case twice.
    for (const [caseId, names] of [['case-a', ['seized.jpg', 'copy-of-seized.jpg', 'other.jpg']], ['case-b', ['seized.jpg']]] as const) {
      const up = newUpload(caseId, 'ev1', 'phone.zip');
      await index.recordUpload(up);
      const root = rootFile(up);
      const files = [root];
      names.forEach((name, i) => {
        const content = name === 'other.jpg' ? OTHER : BAD;
        const f = member(root, i, name, { sha256: content.sha256 });
        ids.set(`${caseId}/${name}`, f.fileId);
        files.push(f);
      });
      await index.insertFiles(files);
    }
    for (const h of [BAD, OTHER]) await index.ensureContent({ ...h, size: 10, source: { container: 'derived', name: h.sha256 } });
    // Contents of nothing in a set, so the job runs over several batches.
    for (let i = 0; i < 7; i++) {
      const h = hashesOf(`unrelated${i}`);
      await index.ensureContent({ ...h, size: 10, source: { container: 'derived', name: h.sha256 } });
    }
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('refuses to match a known-bad set without a custody recorder, before recording anything', async () => {
    const sets = new HashSetStore(sql);
    await expect(sets.import(file(`${BAD.md5}\n`), { name: 'No custody', kind: 'known-bad', importedBy: 'dc.smith' })).rejects.toThrow(/custody recorder/);
    expect(await sets.list({ includeSuperseded: true })).toEqual([]);
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM hash_set_matches');
    expect(rows[0]?.n).toBe(0);
  });

  it('an import after the cases were processed writes one entry per matching file, in each case, once', async () => {
    const custody = keyedRecorder();
    const sets = new HashSetStore(sql, { custody, toolVersion: '9.9.9' });
    const r = await sets.import(file(`${filler(3, 'f')}\n${BAD.md5}\n`), {
      name: 'CAID', kind: 'known-bad', version: '2026-11', categoryNames: { '1': 'Category A' }, importedBy: 'dc.smith',
    });
    expect(r.set.matchedContents).toBe(1);
    const setId = r.set.setId;
    expect(custody.entries.map((e) => `${e.caseId} ${e.subject?.fileId}`).sort()).toEqual(
      [`case-a ${ids.get('case-a/copy-of-seized.jpg')}`, `case-a ${ids.get('case-a/seized.jpg')}`, `case-b ${ids.get('case-b/seized.jpg')}`].sort(),
    );
    const fileId = ids.get('case-b/seized.jpg')!;
    expect(custody.entries.find((e) => e.subject?.fileId === fileId)).toEqual({
      caseId: 'case-b',
      evidenceId: 'ev1',
      action: 'known-file-match',
      actor: 'service:exhibit-pipeline',
      subject: { fileId, sha256: BAD.sha256 },
      details: { set: 'CAID', setId, version: '2026-11', kind: 'known-bad', category: null, categoryName: null, matchedOn: 'md5' },
      tools: [{ name: 'exhibit-pipeline', version: '9.9.9' }],
      // The pipeline's key for the same file and set version (packages/pipeline known-files.ts).
      eventKey: `known:${fileId}:${setId}`,
    });

    // The job run again over the whole index (a resumed or repeated run) adds no entry.
    await sql.query('UPDATE hash_sets SET match_done = false, match_cursor = NULL WHERE set_id = $1', [setId]);
    expect(await sets.rematch(setId, { batchContents: 2 })).toBe(0);
    expect(custody.calls).toBeGreaterThan(3);
    expect(custody.entries).toHaveLength(3);
  });

  it('an interrupted job resumes where it stopped and still writes every entry once', async () => {
    const custody = keyedRecorder();
    const sets = new HashSetStore(sql, { custody, toolVersion: '9.9.9' });
    const set = await sets.import(file(`${OTHER.sha1}\n`), { name: 'Series', kind: 'notable', importedBy: 'dc.smith' });
    await sets.setEnabled('Series', false);
    custody.entries.length = 0;
    const enabled = await sets.setEnabled('Series', true);
    const stop = new AbortController();
    await expect(
      sets.rematch(enabled.setId, { batchContents: 2, abortSignal: stop.signal, onProgress: (p) => p.done >= 4 && stop.abort() }),
    ).rejects.toThrow(/stopped/);
    expect((await sets.pendingMatchJobs())).toEqual([enabled.setId]);
    await sets.rematch(enabled.setId, { batchContents: 2 });
    expect(await sets.pendingMatchJobs()).toEqual([]);
    // The first match entry stands (same file, same set version): re-enabling does not repeat it.
    expect(custody.entries).toEqual([]);
    expect(set.set.setId).toBe(enabled.setId);
  });

  it('disabling withdraws the matches, with an entry per file saying so', async () => {
    const custody = keyedRecorder();
    const sets = new HashSetStore(sql, { custody, toolVersion: '9.9.9' });
    const set = await sets.setEnabled('CAID', false);
    expect(set.matchedContents).toBe(0);
    expect(await index.knownFileMatches(ids.get('case-a/seized.jpg')!)).toEqual([]);
    expect(custody.entries.map((e) => [e.action, e.caseId, e.subject?.fileId, e.eventKey, e.details.reason])).toEqual(
      expect.arrayContaining([
        ['known-file-match-withdrawn', 'case-b', ids.get('case-b/seized.jpg'), `known-withdrawn:${ids.get('case-b/seized.jpg')}:${set.setId}`, 'hash set disabled'],
      ]),
    );
    expect(custody.entries).toHaveLength(3);
    // A second disable has nothing left to withdraw.
    await sets.setEnabled('CAID', false);
    expect(custody.entries).toHaveLength(3);
  });

  it('the pipeline call returns the matches of a set still being built, so its entries are written', async () => {
    const custody = keyedRecorder();
    const sets = new HashSetStore(sql, { custody, toolVersion: '9.9.9' });
    await sets.setEnabled('CAID', true);
    await sql.query(`UPDATE hash_sets SET state = 'matching', activated_at = NULL WHERE name = 'CAID'`);
    const matches = await index.matchFileAgainstHashSets(ids.get('case-a/seized.jpg')!);
    expect(matches.map((m) => m.name)).toEqual(['CAID']);
    // Not shown as a known file until the set is in force.
    expect(await index.knownFileMatches(ids.get('case-a/seized.jpg')!)).toEqual([]);
  });
});
