import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../../packages/host/src/azurite.process.js';
import { caseFiles, committedUploads } from '../../samples/generate.js';
import { SAMPLE_HASH_SETS } from '../../samples/lib/hash-sets.writer.js';
import { ApiClient, readSampleManifest, SAMPLES_DIR, uploadSamples, uploadWithPlainClient, type SampleManifest } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';

/**
 * Known files end to end, as an examiner would do it with the local host
 * (docs/known-files.md): the sample case is processed; the host is stopped
 * (one process per PGlite folder) and the sample hash sets are imported with
 * `exhibit hashset import` (an md5sum list and a Project VIC JSON, known-bad;
 * an NSRL-style database, known-good; a PDQ list, notable, matched by
 * distance), which re-matches the processed case;
 * the host is started again and everything is checked through the HTTP API:
 * findings, counts, the search filter, known-good hidden by default, custody
 * entries, matching of evidence uploaded afterwards, and a disable through the
 * admin API withdrawing the set's matches.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SETS_DIR = path.join(SAMPLES_DIR, 'hash-sets');
const display = (p: string) => p.slice(p.lastIndexOf('!/') + 2);
const BAD_MD5 = display(SAMPLE_HASH_SETS.knownBad.path);
const BAD_VICS = display(SAMPLE_HASH_SETS.vics.path);
const BAD_VICS_COPY = 'Pictures/Favourites/IMG_0002.JPG';
const GOOD = display(SAMPLE_HASH_SETS.nsrl.path);
const LATE = 'EX77';

describe('known files end to end on the embedded stack', () => {
  let h: HostProcessEnv;
  let host: HostProcess | undefined;
  let manifest: SampleManifest;
  let caseId: string;
  let admin: ApiClient;
  let investigator: ApiClient;
  let supervisor: ApiClient;
  const imports: string[] = [];

  async function cli(...args: string[]): Promise<string> {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'packages/cli/src/main.ts'), ...args], {
      cwd: ROOT,
      env: h.env,
      timeout: 120_000,
    });
    return stdout;
  }

  const evidenceIds = () => manifest.evidence.map((e) => e.evidenceId);
  const files = async (query: string) => (await investigator.get(`/cases/${caseId}/files?evidenceId=EX01&limit=500&sort=path&${query}`)).items.map((i: any) => i.file.path as string);
  const status = (evidenceId: string) => investigator.get(`/cases/${caseId}/evidence/${evidenceId}/status`);
  const custody = async (evidenceId: string) => {
    const report = await supervisor.get(`/cases/${caseId}/custody/report?format=json&evidenceId=${evidenceId}`);
    return report.items.flatMap((i: any) => i.entries ?? []) as Array<{ action: string; subject: { fileId?: string }; details: Record<string, unknown>; eventKey?: string }>;
  };

  beforeAll(async () => {
    manifest = await readSampleManifest();
    caseId = manifest.caseId;
    h = await allocateHostEnv();

    // 1. The case is processed with no hash set.
    host = await startHostProcess(h);
    await uploadSamples(h.storageConnectionString, manifest);
    admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'ivy', role: 'investigator' });
    await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'sam', role: 'supervisor' });
    investigator = await ApiClient.login(h, 'ivy', ['investigator']);
    supervisor = await ApiClient.login(h, 'sam', ['supervisor']);
    await investigator.waitComplete(caseId, evidenceIds(), 240_000);
    expect((await status('EX01')).knownFiles).toEqual({ knownBad: 0, notable: 0, knownGood: 0 });
    await host.stop();
    host = undefined;

    // 2. The sets are imported with the CLI on the same data folder: PGlite, and Azurite for the custody log.
    const azurite = await startAzurite({ location: path.join(h.dataDir, 'azurite'), blobPort: h.blobPort, queuePort: h.queuePort });
    try {
      imports.push(await cli('hashset', 'import', path.join(SETS_DIR, SAMPLE_HASH_SETS.knownBad.file), '--name', 'demo-md5', '--kind', 'known-bad', '--set-version', '1', '--by', 'e2e-admin'));
      imports.push(
        await cli('hashset', 'import', path.join(SETS_DIR, SAMPLE_HASH_SETS.vics.file), '--name', 'demo-vics', '--kind', 'known-bad', '--set-version', '2026-12', '--category', '1=Category A', '--category', '2=Category B', '--by', 'e2e-admin'),
      );
      imports.push(await cli('hashset', 'import', path.join(SETS_DIR, SAMPLE_HASH_SETS.nsrl.file), '--name', 'demo-nsrl', '--kind', 'known-good', '--by', 'e2e-admin'));
      imports.push(await cli('hashset', 'import', path.join(SETS_DIR, SAMPLE_HASH_SETS.pdq.file), '--name', 'demo-pdq', '--kind', 'notable', '--max-distance', '31', '--by', 'e2e-admin'));
    } finally {
      await azurite.stop();
    }

    // 3. The host again, with the sets in force.
    host = await startHostProcess(h);
  });

  afterAll(async () => {
    await host?.stop();
    if (h) await removeHostEnv(h);
  });

  it('imports the four sample sets with the CLI, which re-matches the processed case', () => {
    expect(imports[0]).toMatch(/^demo-md5 1 {2}\[known-bad\] {2}enabled/);
    expect(imports[0]).toMatch(/3 hashes from demo-known-bad\.md5 \(checksum-list\)/);
    expect(imports[0]).toMatch(/matches 1 content\(s\)/);
    expect(imports[1]).toMatch(/3 hashes from demo-vics\.json \(vics-json, VICS 2\.0/);
    expect(imports[1]).toMatch(/matches 1 content\(s\)/);
    expect(imports[2]).toMatch(/demo-nsrl 2026\.12\.1-demo modern 2026-12-01 {2}\[known-good\]/);
    expect(imports[2]).toMatch(/matches 1 content\(s\)/);
    expect(imports[3]).toMatch(/3 hashes from demo-pdq\.txt \(pdq-list\)/);
    expect(imports[3]).toMatch(/matches 2 content\(s\)/);
    expect(imports[3]).toMatch(/PDQ: a content within 31 of 256 bits/);
  });

  it('lists the known-bad files as findings and counts every match in the evidence status', async () => {
    const s = await status('EX01');
    expect(s.knownFiles).toEqual({ knownBad: 3, notable: 0, knownGood: 1 });
    const known = s.findings.filter((f: any) => f.flag === 'known-bad');
    expect(known.map((f: any) => display(f.path)).sort()).toEqual([BAD_VICS, BAD_MD5, BAD_VICS_COPY].sort());
    const vics = known.find((f: any) => display(f.path) === BAD_VICS);
    expect(vics.detail).toContain('demo-vics');
    expect(vics.detail).toContain('2026-12');
    expect(vics.detail).toContain('Category A');
    expect(known.find((f: any) => display(f.path) === BAD_MD5).detail).toMatch(/demo-md5.*MD5/);
    // Known-good is counted, never a finding.
    expect(s.findings.some((f: any) => display(f.path) === GOOD)).toBe(false);
    // The loose evidence item holds none of them, but the PDQ list's photo and its resized, recompressed copy.
    const loose = await status('EX02');
    expect(loose.knownFiles).toEqual({ knownBad: 0, notable: 2, knownGood: 0 });
    const notable = loose.findings.filter((f: any) => f.flag === 'notable');
    expect(notable.map((f: any) => f.path).sort()).toEqual([SAMPLE_HASH_SETS.pdq.nearDuplicate, SAMPLE_HASH_SETS.pdq.path].sort());
    for (const f of notable) expect(f.detail).toMatch(/"demo-pdq"; matched on PDQ, distance \d+ of 256 bits \(set limit 31\) on the picture, listed hash 484f6007/);
  });

  it('shows a PDQ match with its distance in the file detail, the notable filter and custody', async () => {
    const items = (await investigator.get(`/cases/${caseId}/files?evidenceId=EX02&known=notable&limit=500`)).items;
    expect(items.map((i: any) => i.file.path).sort()).toEqual([SAMPLE_HASH_SETS.pdq.nearDuplicate, SAMPLE_HASH_SETS.pdq.path].sort());
    const byPath = new Map<string, any>();
    for (const i of items) byPath.set(i.file.path, (await investigator.get(`/cases/${caseId}/files/${i.file.fileId}`)).knownFileMatches);
    expect(byPath.get(SAMPLE_HASH_SETS.pdq.path)).toEqual([expect.objectContaining({ name: 'demo-pdq', kind: 'notable', matchedOn: 'pdq', pdq: expect.objectContaining({ distance: 0, maxDistance: 31, frame: 0, label: 'IMG_LOOSE_0001.jpg' }) })]);
    const copy = byPath.get(SAMPLE_HASH_SETS.pdq.nearDuplicate)[0];
    expect(copy).toMatchObject({ name: 'demo-pdq', matchedOn: 'pdq' });
    // The distance `exhibit similar` reports between the pair (docs/pdq.md).
    expect(copy.pdq.distance).toBeGreaterThan(0);
    expect(copy.pdq.distance).toBeLessThanOrEqual(31);
    const entries = (await custody('EX02')).filter((e) => e.action === 'known-file-match');
    expect(entries.map((e) => (e.details.pdq as { distance: number }).distance).sort((a, b) => a - b)).toEqual([0, copy.pdq.distance]);
  });

  it('filters the search by known-bad, hides known-good by default and shows it on request', async () => {
    expect((await files('known=bad')).map(display).sort()).toEqual([BAD_VICS, BAD_MD5, BAD_VICS_COPY].sort());
    expect(await files('known=notable')).toEqual([]);
    const all = (await files('')).map(display);
    expect(all).not.toContain(GOOD);
    expect(all).toContain(BAD_MD5);
    expect((await files('includeKnownGood=true')).map(display)).toContain(GOOD);
    expect((await files('known=good')).map(display)).toEqual([GOOD]);
    const unknown = (await files('known=unknown')).map(display);
    expect(unknown).not.toContain(GOOD);
    expect(unknown).not.toContain(BAD_MD5);
  });

  it('shows the match, with the digest it matched on, in the file detail', async () => {
    const [hit] = (await investigator.get(`/cases/${caseId}/files?evidenceId=EX01&known=bad&limit=500`)).items.filter((i: any) => display(i.file.path) === BAD_MD5);
    const detail = await investigator.get(`/cases/${caseId}/files/${hit.file.fileId}`);
    expect(detail.knownFileMatches).toEqual([expect.objectContaining({ name: 'demo-md5', version: '1', kind: 'known-bad', matchedOn: 'md5' })]);
  });

  it('writes a known-file-match custody entry per known-bad file (and none for known-good)', async () => {
    const entries = (await custody('EX01')).filter((e) => e.action === 'known-file-match');
    const bad = (await investigator.get(`/cases/${caseId}/files?evidenceId=EX01&known=bad&limit=500`)).items.map((i: any) => i.file.fileId as string);
    // One entry per known-bad file (the re-match job wrote them; the pipeline had no set then).
    expect(entries.map((e) => e.subject.fileId).sort()).toEqual([...bad].sort());
    expect(entries.every((e) => e.eventKey?.startsWith('known:'))).toBe(true);
  });

  it('matches evidence uploaded after the import in the pipeline', async () => {
    const bytes = await readFile(path.join(SAMPLES_DIR, 'extraction', caseId, 'EX02', 'IMG_LOOSE_0001.jpg'));
    // A copy of a known-bad photo's bytes arrives as a new evidence item, beside a photo no set lists.
    const caseBytes = await caseFiles(await committedUploads(SAMPLES_DIR));
    await uploadWithPlainClient(h.storageConnectionString, `${caseId}/${LATE}/sent.jpg`, caseBytes.get(SAMPLE_HASH_SETS.knownBad.path)!, { examiner: 'e2e' });
    await uploadWithPlainClient(h.storageConnectionString, `${caseId}/${LATE}/other.jpg`, bytes, { examiner: 'e2e' });
    const done = await investigator.waitComplete(caseId, [LATE], 120_000);
    // The other photo has the PDQ list's photo's bytes: its content's match shows at the new file, whose
    // custody entry the pipeline writes.
    expect(done[LATE].knownFiles).toEqual({ knownBad: 1, notable: 1, knownGood: 0 });
    expect(done[LATE].findings.filter((f: any) => f.flag === 'known-bad').map((f: any) => f.path)).toEqual(['sent.jpg']);
    expect(done[LATE].findings.filter((f: any) => f.flag === 'notable').map((f: any) => f.path)).toEqual(['other.jpg']);
    expect((await custody(LATE)).filter((e) => e.action === 'known-file-match')).toHaveLength(2);
  });

  it('withdraws the set’s matches when an admin disables it through the API', async () => {
    const [hit] = (await investigator.get(`/cases/${caseId}/files?evidenceId=EX01&known=bad&limit=500`)).items.filter((i: any) => display(i.file.path) === BAD_MD5);
    const res = await admin.request('POST', '/admin/hash-sets/demo-md5/disable');
    expect(res.status).toBe(200);
    await res.body?.cancel();

    const s = await status('EX01');
    expect(s.knownFiles).toEqual({ knownBad: 2, notable: 0, knownGood: 1 });
    expect(s.findings.filter((f: any) => f.flag === 'known-bad').map((f: any) => display(f.path)).sort()).toEqual([BAD_VICS, BAD_VICS_COPY].sort());
    expect((await files('known=bad')).map(display)).not.toContain(BAD_MD5);
    const detail = await investigator.get(`/cases/${caseId}/files/${hit.file.fileId}`);
    expect(detail.knownFileMatches).toEqual([]);
    const withdrawn = (await custody('EX01')).filter((e) => e.action === 'known-file-match-withdrawn');
    expect(withdrawn.map((e) => e.subject.fileId)).toEqual([hit.file.fileId]);
    expect(withdrawn[0]!.details.reason).toBe('hash set disabled');
    // The other evidence item's copy is withdrawn too: the set is off for every case.
    expect((await status(LATE)).knownFiles).toEqual({ knownBad: 0, notable: 1, knownGood: 0 });

    const sets = await admin.get('/admin/hash-sets');
    const list = Array.isArray(sets) ? sets : sets.items ?? sets.sets;
    expect(list.find((x: any) => x.name === 'demo-md5').enabled).toBe(false);
  });
});
