import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IndexStore } from '@exhibit/core';
import { createPostgresIndex, openSqlClient, type SqlClient } from '../src/index.js';
import { HashSetStore } from '../src/hash-sets/hash-set-store.js';
import { hashesOf, member, newUpload, rootFile } from './fixtures.js';
import { DATABASE_URL, pgliteMemory, pgliteWireServer, postgresServer } from './targets.js';

const CASE = 'case-known';
const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hashset-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(content: string): string {
  const f = path.join(dir, `set-${n++}.txt`);
  writeFileSync(f, content);
  return f;
}

const BAD = hashesOf('bad.jpg');
const GOOD = hashesOf('system.dll');
const PLAIN = hashesOf('holiday.jpg');
const LATE = hashesOf('late.jpg');
/** Filler rows: hashes of nothing in the case. */
const filler = (count: number, salt: string) => Array.from({ length: count }, (_, i) => hashesOf(`${salt}${i}`).sha256).join('\n');

describe.each([pgliteMemory(), pgliteWireServer(), ...(DATABASE_URL ? [postgresServer(DATABASE_URL)] : [])])('hash sets on $name', (target) => {
  let index: IndexStore;
  let sql: SqlClient;
  let sets: HashSetStore;
  const ids = new Map<string, string>();
  const paths = async (q: Parameters<IndexStore['search']>[0]) => (await index.search(q)).items.map((i) => i.file.name).sort();

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
    // Entries kept by event key, as the custody writer keeps them (hash-set-custody.test.ts checks them).
    const keys = new Set<string>();
    sets = new HashSetStore(sql, { custody: { record: async (e) => void keys.add(e.eventKey ?? '') }, toolVersion: 'test' });
    const up = newUpload(CASE, 'ev1', 'phone.zip');
    await index.recordUpload(up);
    const root = rootFile(up);
    const files = [root];
    ['bad.jpg', 'system.dll', 'holiday.jpg', 'late.jpg'].forEach((name, i) => {
      const f = member(root, i, name, { sha256: hashesOf(name).sha256 });
      ids.set(name, f.fileId);
      files.push(f);
    });
    await index.insertFiles(files);
    for (const h of [BAD, GOOD, PLAIN]) await index.ensureContent({ ...h, size: 10, source: { container: 'derived', name: h.sha256 } });
  });
  afterAll(async () => {
    await index?.close();
    await target.dispose();
  });

  it('refuses a file with a malformed row whole, naming the line, and leaves nothing behind', async () => {
    const f = file(`${BAD.md5}\n${BAD.md5.slice(1)}\n`);
    await expect(sets.import(f, { name: 'Police list', kind: 'known-bad', importedBy: 'dc.smith' })).rejects.toThrow(/1 malformed row.*line 2.*--skip-bad-rows/);
    expect(await sets.list({ includeSuperseded: true })).toEqual([]);
  });

  it('imports a known-bad list, matches existing contents, and shows them in status and search', async () => {
    const f = file(`${BAD.md5}\nnot-hex\n${filler(5, 'x')}\n`);
    const r = await sets.import(f, { name: 'Police list', kind: 'known-bad', version: '7', categoryNames: { '1': 'Category A' }, importedBy: 'dc.smith', skipBadRows: true });
    expect(r.set).toMatchObject({ name: 'Police list', version: '7', kind: 'known-bad', format: 'hash-list', rowCount: 6, rejectedRows: 1,
      importedBy: 'dc.smith', state: 'active', enabled: true, matchDone: true, matchedContents: 1, sourceFileName: path.basename(f) });
    expect(r.errors.map((e) => e.line)).toEqual([2]);
    const status = await index.evidenceStatus(CASE, 'ev1');
    expect(status?.knownFiles).toEqual({ knownBad: 1, notable: 0, knownGood: 0 });
    expect(status?.findings.filter((x) => x.flag === 'known-bad')).toEqual([
      { fileId: ids.get('bad.jpg'), path: 'phone.zip!/bad.jpg', flag: 'known-bad', detail: 'in known-bad hash set "Police list" version 7; matched on MD5' },
    ]);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['bad.jpg']);
  });

  it('hides known-good files from search by default, with a switch to show them', async () => {
    const f = file(`%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n10,${GOOD.md5},${GOOD.sha256},C:\\Windows\\system.dll\n`);
    await sets.import(f, { name: 'NSRL', kind: 'known-good', importedBy: 'dc.smith' });
    expect(await paths({ caseId: CASE })).toEqual(['bad.jpg', 'holiday.jpg', 'late.jpg', 'phone.zip']);
    expect(await paths({ caseId: CASE, includeKnownGood: true })).toContain('system.dll');
    expect(await paths({ caseId: CASE, known: 'good' })).toEqual(['system.dll']);
    expect(await paths({ caseId: CASE, known: 'unknown' })).toEqual(['holiday.jpg', 'late.jpg', 'phone.zip']);
    const [m] = await index.knownFileMatches(ids.get('system.dll')!);
    expect(m).toMatchObject({ name: 'NSRL', kind: 'known-good', matchedOn: 'sha256' });
  });

  it('matches a content indexed after the import (the pipeline call), by its recorded hashes', async () => {
    const f = file(`MD5;SHA1;Category\n;${LATE.sha1};1\n`);
    await sets.import(f, { name: 'ICSE', kind: 'notable', categoryNames: { '1': 'Series X' }, importedBy: 'dc.smith' });
    expect(await index.matchFileAgainstHashSets(ids.get('late.jpg')!)).toEqual([]); // no content row yet
    await index.ensureContent({ ...LATE, size: 10, source: { container: 'derived', name: LATE.sha256 } });
    const matches = await index.matchFileAgainstHashSets(ids.get('late.jpg')!);
    expect(matches).toEqual([{ sha256: LATE.sha256, setId: expect.any(Number), name: 'ICSE', version: null, kind: 'notable', category: 1, categoryName: 'Series X', matchedOn: 'sha1' }]);
    expect(await index.matchFileAgainstHashSets(ids.get('late.jpg')!)).toEqual(matches);
    expect((await index.evidenceStatus(CASE, 'ev1'))?.knownFiles).toEqual({ knownBad: 1, notable: 1, knownGood: 1 });
    // A batch message's files in one statement: each file's matches as the per-file call gives them.
    const batch = ['late.jpg', 'bad.jpg', 'holiday.jpg', 'system.dll'].map((name) => ids.get(name)!);
    const byFile = await index.matchFilesAgainstHashSets([...batch, 'f-missing']);
    expect([...byFile.keys()]).toEqual([...batch, 'f-missing']);
    for (const id of batch) expect(byFile.get(id)).toEqual(await index.matchFileAgainstHashSets(id));
    expect(byFile.get(ids.get('late.jpg')!)).toEqual(matches);
    expect(byFile.get(ids.get('bad.jpg')!)).toHaveLength(1);
    expect(byFile.get('f-missing')).toEqual([]);
  });

  it('disabling withdraws the matches; enabling re-matches', async () => {
    await sets.setEnabled('Police list', false);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual([]);
    expect(await sets.pendingMatchJobs()).toEqual([]);
    const enabled = await sets.setEnabled('Police list', true);
    expect(await sets.pendingMatchJobs()).toEqual([enabled.setId]);
    expect(await sets.rematch(enabled.setId)).toBe(1);
    expect(await sets.rematch(enabled.setId)).toBe(0);
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['bad.jpg']);
  });

  it('resumes an interrupted import of the same file, then replaces the old version in one switch', async () => {
    const old = await sets.get('Police list');
    const f = file(`${filler(30, 'y')}\n${PLAIN.sha1}\n`);
    const stop = new AbortController();
    let loaded = 0;
    await expect(
      sets.import(f, {
        name: 'Police list', kind: 'known-bad', version: '8', importedBy: 'dc.jones', copyChunkRows: 10, abortSignal: stop.signal,
        onProgress: (p) => {
          if (p.phase === 'loading' && p.done > 0 && loaded === 0) {
            loaded = p.done;
            stop.abort();
          }
        },
      }),
    ).rejects.toThrow(/stopped/);
    expect(loaded).toBe(10);
    // Still the old version in force meanwhile.
    expect((await sets.get('Police list'))?.version).toBe('7');
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['bad.jpg']);

    const r = await sets.import(f, { name: 'Police list', kind: 'known-bad', version: '8', importedBy: 'dc.jones', copyChunkRows: 10 });
    expect(r.resumed).toBe(true);
    expect(r.replacedSetId).toBe(old?.setId);
    expect(r.set).toMatchObject({ version: '8', rowCount: 31, state: 'active' });
    expect(await paths({ caseId: CASE, known: 'bad' })).toEqual(['holiday.jpg']);
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM hash_set_hashes WHERE set_id = $1', [r.set.setId]);
    expect(rows[0]?.n).toBe(31);
    expect((await sets.list()).map((s) => `${s.name} ${s.version ?? ''}`)).toEqual(['ICSE ', 'NSRL ', 'Police list 8']);
  });

  it('removes a set with its hashes and matches', async () => {
    const nsrl = await sets.get('NSRL');
    await sets.remove('NSRL');
    expect(await sets.get('NSRL')).toBeNull();
    expect(await paths({ caseId: CASE })).toContain('system.dll');
    const { rows } = await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM hash_set_hashes WHERE set_id = $1', [nsrl?.setId]);
    expect(rows[0]?.n).toBe(0);
    await expect(sets.remove('NSRL')).rejects.toThrow(/no hash set named/);
  });
});
