import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { CustodyRecorder } from '@exhibit/core';
import { createApi } from '../src/api.js';
import type { ApiRequest } from '../src/api.types.js';
import { createApiFixture, seedCase, type ApiFixture, type SeededCase } from './api-fixture.js';

/**
 * A browser cancels thumbnail loads as the user scrolls. The custody write of a
 * read must not be cancelled with the request: a cut-off write may already be in
 * storage without its index row, and a read that was (or is being) delivered
 * must be in the log. Over a real custody log (Azurite + PGlite index copy).
 */
let f: ApiFixture;
let seed: SeededCase;
let ivy: string;
let sue: string;

beforeAll(async () => {
  f = await createApiFixture(inject('storageConnectionString'));
  seed = await seedCase(f, 'ABORT-1');
  await f.access.assign(seed.caseId, 'ivy', { by: 'setup' });
  await f.access.assign(seed.caseId, 'sue', { by: 'setup' });
  ivy = await f.token('ivy', ['investigator']);
  sue = await f.token('sue', ['supervisor']);
});

afterAll(async () => {
  await f?.dispose();
});

/** The real custody log, entered only once the test lets it: the client goes away in between. */
function heldCustody() {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered = 0;
  const custody: CustodyRecorder = {
    async record(event, options) {
      entered++;
      await gate;
      return f.custodyLog.record(event, options);
    },
  };
  return { custody, release, entered: () => entered };
}

const get = (token: string, path: string): ApiRequest => ({ method: 'GET', path, query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` } });

async function thumbnailViews(): Promise<number> {
  const { rows } = await f.sql.query<{ n: number | string }>(`SELECT count(*) AS n FROM custody_entries WHERE case_id = $1 AND action = 'thumbnail-view'`, [seed.caseId]);
  return Number(rows[0]!.n);
}

describe('custody writes of reads outlive the client', () => {
  it("regression: a client that aborted a thumbnail request mid-way cancelled the read's custody write", async () => {
    for (const path of [`/cases/${seed.caseId}/files/${seed.photoFileId}/thumbnail`, `/cases/${seed.caseId}/contents/${seed.photoSha256}/thumbnail`]) {
      const held = heldCustody();
      const api = createApi({ ...f.deps, custody: held.custody });
      const before = await thumbnailViews();
      const client = new AbortController();
      const pending = api.handle(get(ivy, path), { abortSignal: client.signal });
      for (let i = 0; i < 500 && held.entered() === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(held.entered()).toBe(1);
      client.abort(new Error('client went away'));
      held.release();
      const res = await pending;
      expect(res.status).toBe(200);
      if (res.body && typeof (res.body as NodeJS.ReadableStream).resume === 'function') (res.body as NodeJS.ReadableStream).resume();
      expect(await thumbnailViews()).toBe(before + 1);
    }
    // And the log verifies, every entry in it in the index copy.
    const api = createApi({ ...f.deps, custody: f.custodyLog });
    const res = await api.handle(get(sue, `/cases/${seed.caseId}/custody/verify`));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true });
  });

  it('many concurrent reads while verification runs: an intact log never verifies as broken', async () => {
    const api = createApi({ ...f.deps, custody: f.custodyLog });
    const reads = Array.from({ length: 24 }, (_, i) =>
      api.handle(get(i % 2 ? ivy : sue, i % 3 ? `/cases/${seed.caseId}/files/${seed.photoFileId}/thumbnail` : `/cases/${seed.caseId}/contents/${seed.photoSha256}/thumbnail`)),
    );
    const verifications = Array.from({ length: 4 }, () => api.handle(get(sue, `/cases/${seed.caseId}/custody/verify`)));
    const results = await Promise.all([...reads, ...verifications]);
    for (const r of results) expect(r.status).toBe(200);
    for (const v of results.slice(reads.length)) {
      const body = v.body as { ok: boolean; items: Array<{ firstBreak: unknown }> };
      expect(body.items.map((i) => i.firstBreak)).toEqual(body.items.map(() => null));
      expect(body.ok).toBe(true);
    }
  });
});
