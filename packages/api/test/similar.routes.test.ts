import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApi } from '../src/api.js';
import type { Api, ApiRequest } from '../src/api.types.js';
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/**
 * GET /cases/{caseId}/files/{fileId}/similar against a real index (PGlite):
 * three cases each hold a near-duplicate of the same picture; the caller is
 * assigned to two. Neither scope ever returns the third case's file.
 */
let f: ApiFixture;
let api: Api;
let one: SeededCase;
let two: SeededCase;
let other: SeededCase;

const HASH = '0f'.repeat(32);
/** The hash with `bits` of its low bits flipped. */
const near = (bits: number) => (BigInt('0x' + HASH) ^ ((1n << BigInt(bits)) - 1n)).toString(16).padStart(64, '0');

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  api = createApi(f.deps);
  one = await seedCase(f, 'SIM-ONE');
  two = await seedCase(f, 'SIM-TWO');
  other = await seedCase(f, 'SIM-OTHER');
  await f.index.setPdq(one.photoSha256, [{ frame: 0, hash: HASH, quality: 90 }]);
  await f.index.setPdq(two.photoSha256, [{ frame: 0, hash: near(5), quality: 90 }]);
  await f.index.setPdq(other.photoSha256, [{ frame: 0, hash: near(3), quality: 90 }]);
  await f.access.assign('SIM-ONE', 'ivy', { by: 'setup' });
  await f.access.assign('SIM-TWO', 'ivy', { by: 'setup' });
  await f.access.assign('SIM-OTHER', 'olga', { by: 'setup' });
});

afterAll(async () => {
  await f?.dispose();
});

async function similar(user: string, caseId: string, fileId: string, query: Record<string, string>) {
  const token = await f.token(user, ['investigator']);
  return api.handle({ method: 'GET', path: `/cases/${caseId}/files/${fileId}/similar`, query: new URLSearchParams(query), headers: { authorization: `Bearer ${token}` } } as ApiRequest);
}

type Body = { hash: string | null; caseIds: string[]; items: Array<{ distance: number; files: Array<{ caseId: string; fileId: string }> }> };

describe('similar-image search', () => {
  it('scope=case finds the file itself only; scope=assigned adds the assigned case, never the unassigned one', async () => {
    const inCase = await similar('ivy', 'SIM-ONE', one.photoFileId, {});
    expect(inCase.status).toBe(200);
    const byCase = inCase.body as Body;
    expect(byCase.hash).toBe(HASH);
    expect(byCase.items.map((i) => [i.distance, i.files.map((x) => x.caseId)])).toEqual([[0, ['SIM-ONE']]]);

    const assigned = (await similar('ivy', 'SIM-ONE', one.photoFileId, { scope: 'assigned', maxDistance: '31' })).body as Body;
    expect(assigned.caseIds.sort()).toEqual(['SIM-ONE', 'SIM-TWO']);
    expect(assigned.items.map((i) => [i.distance, i.files.map((x) => x.fileId)])).toEqual([[0, [one.photoFileId]], [5, [two.photoFileId]]]);
    expect(JSON.stringify(assigned)).not.toContain('SIM-OTHER');

    // The other case's near-duplicate (3 bits) is there for the user assigned to it.
    const olga = (await similar('olga', 'SIM-OTHER', other.photoFileId, { scope: 'assigned' })).body as Body;
    expect(olga.items.map((i) => i.files.map((x) => x.caseId))).toEqual([['SIM-OTHER']]);
  });

  it('honours maxDistance, and an unassigned caller gets the one 404', async () => {
    const tight = (await similar('ivy', 'SIM-ONE', one.photoFileId, { scope: 'assigned', maxDistance: '4' })).body as Body;
    expect(tight.items.map((i) => i.distance)).toEqual([0]);
    expect((await similar('ivy', 'SIM-OTHER', other.photoFileId, { scope: 'assigned' })).status).toBe(404);
    expect((await similar('ivy', 'SIM-ONE', one.photoFileId, { maxDistance: '257' })).status).toBe(400);
  });

  it('pdq-search-case-searched-without-match-has-no-custody-entry', async () => {
    // SIM-TWO is searched (scope=assigned) but its near-duplicate is 5 bits away, beyond maxDistance 4:
    // the answer still says something about SIM-TWO (nothing near there), so its log records the search.
    f.custodyEvents.length = 0;
    const res = await similar('ivy', 'SIM-ONE', one.photoFileId, { scope: 'assigned', maxDistance: '4' });
    expect((res.body as Body).items.flatMap((i) => i.files.map((x) => x.caseId))).toEqual(['SIM-ONE']);
    const searches = f.custodyEvents.filter((e) => e.action === 'search');
    expect([...new Set(searches.map((e) => e.caseId))].sort()).toEqual(['SIM-ONE', 'SIM-TWO']);
    expect(searches.every((e) => e.actor === 'ivy')).toBe(true);
    // Never a case the caller is not assigned to.
    expect(f.custodyEvents.some((e) => e.caseId === 'SIM-OTHER')).toBe(false);
    // SIM-TWO's entry says only what of SIM-TWO was shown: SIM-TWO's readers need not be SIM-ONE's.
    const twos = searches.filter((e) => e.caseId === 'SIM-TWO');
    expect(twos[0]?.details).toMatchObject({ filesShown: 0, fileIdsShown: [] });
    expect(JSON.stringify(twos)).not.toContain('SIM-ONE');
    expect(JSON.stringify(twos)).not.toContain(one.photoFileId);
  });

  it('pdq-search-custody-leaks-other-case-picture-and-match-count: another case\'s entry has neither the picture\'s SHA-256 nor the total', async () => {
    f.custodyEvents.length = 0;
    const res = (await similar('ivy', 'SIM-ONE', one.photoFileId, { scope: 'assigned' })).body as Body;
    expect(res.items).toHaveLength(2);
    const twos = f.custodyEvents.filter((e) => e.action === 'search' && e.caseId === 'SIM-TWO');
    expect(twos.length).toBeGreaterThan(0);
    for (const e of twos) {
      expect(e.subject).toBeUndefined();
      expect(e.details).not.toHaveProperty('returned');
      expect(e.details).toMatchObject({ filesShown: 1, fileIdsShown: [two.photoFileId] });
      expect(JSON.stringify(e)).not.toContain(one.photoSha256);
    }
    // The searched case's own entry keeps the whole answer's size.
    expect(f.custodyEvents.find((e) => e.action === 'search' && e.caseId === 'SIM-ONE')?.details).toMatchObject({ returned: 2, filesShown: 1 });
  });

  it('pdq-search-assigned-writes-every-evidence-log-of-every-case: another case is recorded where something was shown, else once for the case', async () => {
    await seedCase(f, 'SIM-MANY', 'EX01');
    await seedCase(f, 'SIM-MANY', 'EX02');
    await seedCase(f, 'SIM-MANY', 'EX03');
    for (const c of ['SIM-ONE', 'SIM-TWO', 'SIM-MANY']) await f.access.assign(c, 'uma', { by: 'setup' });
    f.custodyEvents.length = 0;
    const res = (await similar('uma', 'SIM-ONE', one.photoFileId, { scope: 'assigned' })).body as Body;
    expect(res.caseIds.sort()).toEqual(['SIM-MANY', 'SIM-ONE', 'SIM-TWO']);
    const searches = f.custodyEvents.filter((e) => e.action === 'search');
    // Nothing of SIM-MANY shown: one entry for the whole case (3 items searched), not one per item.
    const many = searches.filter((e) => e.caseId === 'SIM-MANY');
    expect(many.map((e) => e.evidenceId)).toEqual(['EX01']);
    expect(many[0]?.details).toMatchObject({ filesShown: 0, fileIdsShown: [], evidenceSearched: 3, recordedFor: 'case' });
    // SIM-TWO's shown file: in its evidence item's log.
    const twos = searches.filter((e) => e.caseId === 'SIM-TWO');
    expect(twos.map((e) => e.evidenceId)).toEqual([two.evidenceId]);
    expect(twos[0]?.details).toMatchObject({ filesShown: 1, fileIdsShown: [two.photoFileId], evidenceSearched: 1 });
    expect(twos[0]?.details).not.toHaveProperty('recordedFor');
    // Every case searched has its entry; the case asked from one in each of its items.
    expect([...new Set(searches.map((e) => e.caseId))].sort()).toEqual(['SIM-MANY', 'SIM-ONE', 'SIM-TWO']);
    expect(searches.filter((e) => e.caseId === 'SIM-ONE')).toHaveLength(1);
  });

  it('pdq-search-shown-file-of-unlisted-evidence-recorded-as-nothing-shown', async () => {
    // A shown file whose evidence item listEvidence does not give (deleted meanwhile, or a stale read):
    // the entry goes to the case's first item, but it must still say files were shown, not `recordedFor: case`.
    await f.access.assign('SIM-TWO', 'vera', { by: 'setup' });
    await f.access.assign('SIM-ONE', 'vera', { by: 'setup' });
    const index = f.index as unknown as { listEvidence: (caseId: string) => Promise<Array<{ evidenceId: string }>> };
    const listEvidence = index.listEvidence.bind(index);
    index.listEvidence = async (caseId: string) =>
      caseId === 'SIM-TWO' ? (await listEvidence(caseId)).map((e) => ({ ...e, evidenceId: 'EV-OTHER' })) : listEvidence(caseId);
    try {
      f.custodyEvents.length = 0;
      await similar('vera', 'SIM-ONE', one.photoFileId, { scope: 'assigned' });
    } finally {
      delete (index as { listEvidence?: unknown }).listEvidence;
    }
    const twos = f.custodyEvents.filter((e) => e.action === 'search' && e.caseId === 'SIM-TWO');
    expect(twos).toHaveLength(1);
    expect(twos[0]?.details).toMatchObject({ filesShown: 1, fileIdsShown: [two.photoFileId] });
    expect(twos[0]?.details).not.toHaveProperty('recordedFor');
  });

  it('answers a file without a PDQ hash with none and no items', async () => {
    const res = await similar('ivy', 'SIM-ONE', one.rootFileId, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ hash: null, items: [] });
  });

  it("searches every frame of a video, and says which frames are near (the searched video's and the one found)", async () => {
    // The case's archive stands in for a video: two contact-sheet frames, the second 7 bits from the photo's hash.
    const far = 'f0'.repeat(32);
    await f.index.setPdq(two.rootSha256, [{ frame: 0, hash: far, quality: 90, timeMs: 1500 }, { frame: 1, hash: near(7), quality: 90, timeMs: 4500 }]);
    type VideoBody = Omit<Body, 'items'> & { frames: Array<{ frame: number; timeMs?: number }>; items: Array<{ sha256: string; frame: number; timeMs?: number; fromFrame: number; fromTimeMs?: number; distance: number }> };
    const fromVideo = (await similar('ivy', 'SIM-TWO', two.rootFileId, { scope: 'assigned' })).body as VideoBody;
    expect(fromVideo.frames.map((x) => [x.frame, x.timeMs])).toEqual([[0, 1500], [1, 4500]]);
    // Each content once, at its nearest: the video itself (0), the case's photo (near(5): 2 bits from frame 1), the other case's (7).
    expect(fromVideo.items.map((i) => [i.sha256, i.distance, i.frame, i.fromFrame, i.fromTimeMs])).toEqual([
      [two.rootSha256, 0, 0, 0, 1500],
      [two.photoSha256, 2, 0, 1, 4500],
      [one.photoSha256, 7, 0, 1, 4500],
    ]);
    // From the photo, the video is found by its frame 1, with that frame's time.
    const fromPhoto = (await similar('ivy', 'SIM-ONE', one.photoFileId, { scope: 'assigned' })).body as VideoBody;
    expect(fromPhoto.items.find((i) => i.sha256 === two.rootSha256)).toMatchObject({ distance: 7, frame: 1, timeMs: 4500, fromFrame: 0 });
  });
});
