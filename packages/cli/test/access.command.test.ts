import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRootLogger, memberFileId } from '@exhibit/core';
import { createApi, startHttpServer, type HttpServerHandle } from '@exhibit/api';
import { freePort } from '@exhibit/host';
import { EXIT } from '../src/cli-error.js';
import { createCliContext } from '../src/context.js';
import { loadCommandModules } from '../src/main.js';
import { runCli } from '../src/program.js';
import { CapturedStream } from '../src/test-support.js';
import type { CaseListBody } from '../src/api/api-types.js';
import { createApiFixture, seedCase, seedStoredMember, type ApiFixture, type SeededStoredMember } from '../../api/test/api-fixture.js';

/** `exhibit cases`, `assignments`, `assign`, `unassign`, `whoami`, `download` through a real HTTP API, index and blob storage. */
let f: ApiFixture;
let server: HttpServerHandle;
let dir: string;
let env: NodeJS.ProcessEnv;
let stored: SeededStoredMember;

async function cli(user: string, roles: Parameters<ApiFixture['token']>[1], ...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const ctxEnv = { ...env, EXHIBIT_TOKEN: await f.token(user, roles) };
  const code = await runCli(argv, createCliContext({ env: ctxEnv, stdout, stderr }), await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-access-'));
  f = await createApiFixture(inject('storageConnectionString'));
  stored = await seedStoredMember(f, 'PHONE-1');
  await seedCase(f, 'ORPHAN-7');
  await f.access.assign('PHONE-1', 'erin', { by: 'setup', role: 'examiner' });
  await f.access.assign('PHONE-1', 'sam', { by: 'setup', role: 'supervisor' });
  const port = await freePort();
  server = await startHttpServer(createApi(f.deps), { host: '127.0.0.1', port, logger: createRootLogger({ level: 'silent' }) });
  env = { EXHIBIT_API_URL: `http://127.0.0.1:${port}/api`, EXHIBIT_DATA_DIR: dir, EXHIBIT_LOG_LEVEL: 'silent' };
});

afterAll(async () => {
  await server?.close();
  await f?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('exhibit whoami and cases', () => {
  it('whoami says who the API takes you for', async () => {
    const res = await cli('erin', ['examiner'], 'whoami');
    expect(res.code).toBe(EXIT.ok);
    expect(res.out).toMatch(/^erin \(examiner\)\n {2}token {5}local key, valid until \d{4}-/);
    expect(res.out).toContain(`  API       ${env.EXHIBIT_API_URL}\n`);
    expect(res.out).toContain('  cases     PHONE-1\n');
  });

  it('cases lists your own cases; with none, says how to get one', async () => {
    const mine = await cli('erin', ['examiner'], 'cases');
    expect(mine.code).toBe(EXIT.ok);
    expect(mine.out.split('\n')[0]).toMatch(/^Case\s+Your role\s+Evidence\s+Files\s+Processing$/);
    expect(mine.out).toMatch(/^PHONE-1\s+examiner\s+1\s+2\s+complete$/m);
    expect(mine.out).not.toContain('ORPHAN-7');
    const none = await cli('ivan', ['investigator'], 'cases');
    expect(none.out).toMatch(/not assigned to any case/);
  });

  it('cases for an admin lists every case, flags the unassigned ones and says how to assign', async () => {
    const res = await cli('ada', ['admin'], 'cases');
    expect(res.code).toBe(EXIT.ok);
    expect(res.out.split('\n')[0]).toMatch(/^Case\s+Your role\s+Assignees\s+Opened by\s+Evidence\s+Files\s+Processing$/);
    expect(res.out).toMatch(/^ORPHAN-7\s+\(not assigned\)\s+0\s+-\s+1\s+2\s+complete$/m);
    expect(res.out).toMatch(/^PHONE-1\s+\(not assigned\)\s+2\s+-/m);
    expect(res.out).toContain('1 case with nobody assigned: exhibit assign <case> <user> --role <role>');
    const json = JSON.parse((await cli('ada', ['admin'], 'cases', '--json')).out) as CaseListBody;
    expect(json.cases.map((c) => c.caseId)).toEqual(['ORPHAN-7', 'PHONE-1']);
  });
});

describe('exhibit assign, assignments, unassign', () => {
  it('an admin assigns a user to a case nobody is assigned to; again changes nothing; a role change says so', async () => {
    const first = await cli('ada', ['admin'], 'assign', 'ORPHAN-7', 'ivan', '--role', 'investigator');
    expect(first.code).toBe(EXIT.ok);
    expect(first.out).toMatch(/^assigned ivan on ORPHAN-7 with investigator \(by ada, \d{4}-.*\)\n$/);
    const again = await cli('ada', ['admin'], 'assign', 'ORPHAN-7', 'ivan', '--role', 'investigator');
    expect(again.out).toBe('ivan on ORPHAN-7: already assigned with investigator; nothing changed\n');
    const list = await cli('ada', ['admin'], 'assignments', 'ORPHAN-7');
    expect(list.out.split('\n')[0]).toMatch(/^User\s+Role\s+Object id\s+Assigned by\s+Since \(UTC\)$/);
    expect(list.out).toMatch(/^ivan\s+investigator\s+-\s+ada\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/m);
    // Now visible to ivan.
    expect((await cli('ivan', ['investigator'], 'cases')).out).toMatch(/^ORPHAN-7\s+investigator\s+1/m);
  });

  it('assignment-objectid-not-shown: an assignment by object id says whom it is bound to, in the result and the list', async () => {
    const oid = '1d1d1d1d-2222-3333-4444-555555555555';
    const res = await cli('ada', ['admin'], 'assign', 'ORPHAN-7', oid.toUpperCase(), '--role', 'examiner');
    expect(res.out).toMatch(new RegExp(`^assigned ${oid.toUpperCase()} on ORPHAN-7 with examiner, bound to object id ${oid} \\(by ada`));
    expect((await cli('ada', ['admin'], 'assignments', 'ORPHAN-7')).out).toMatch(new RegExp(`^${oid.toUpperCase()}\\s+examiner\\s+${oid}\\s+ada`, 'm'));
    expect((await cli('ada', ['admin'], 'unassign', 'ORPHAN-7', oid)).code).toBe(0);
  });

  it('unassign removes the user; the case disappears from their list', async () => {
    const res = await cli('ada', ['admin'], 'unassign', 'ORPHAN-7', 'ivan');
    expect(res.code).toBe(EXIT.ok);
    expect(res.out).toBe('removed ivan from ORPHAN-7\n');
    expect((await cli('ivan', ['investigator'], 'cases')).out).toMatch(/not assigned to any case/);
  });

  it('unassign-of-nobody-said-not-assigned-any-more: removing a name that holds no assignment fails and says nothing was removed', async () => {
    const res = await cli('ada', ['admin'], 'unassign', 'ORPHAN-7', 'nobody');
    expect(res.code).toBe(EXIT.error);
    expect(res.out).toBe('');
    expect(res.err).toMatch(/nothing removed: nobody holds no assignment on ORPHAN-7/);
  });

  it('refuses others: an examiner gets forbidden on their case, not-found on another; a bad role is a usage error', async () => {
    const own = await cli('erin', ['examiner'], 'assign', 'PHONE-1', 'ivan');
    expect(own.code).toBe(EXIT.error);
    expect(own.err).toMatch(/not allowed/);
    const other = await cli('erin', ['examiner'], 'assign', 'ORPHAN-7', 'ivan');
    expect(other.err).toMatch(/not found.*not assigned/);
    const badRole = await cli('ada', ['admin'], 'assign', 'PHONE-1', 'ivan', '--role', 'chief');
    expect(badRole.code).toBe(EXIT.usage);
    const badUser = await cli('ada', ['admin'], 'assign', 'PHONE-1', ' ivan');
    expect(badUser.code).toBe(EXIT.usage);
  });
});

describe('exhibit download', () => {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('saves exactly the member of the phone ZIP, verifies and reports its SHA-256, and is recorded once', async () => {
    f.custodyEvents.length = 0;
    const out = path.join(dir, 'IMG_0002.jpg');
    const res = await cli('erin', ['examiner'], 'download', 'PHONE-1', stored.memberFileId, '-o', out);
    expect(res.err).toBe('');
    expect(res.code).toBe(EXIT.ok);
    expect(res.out).toBe(
      `saved PHONE-1 ${stored.memberFileId} to ${out}\n` +
        `  size      ${stored.memberBytes.length.toLocaleString('en-GB')} bytes\n` +
        `  sha256    ${stored.memberSha256}  (matches the recorded SHA-256)\n`,
    );
    const saved = await readFile(out);
    expect(saved.equals(stored.memberBytes)).toBe(true);
    expect(sha256(saved)).toBe(stored.memberSha256);
    expect(f.custodyEvents.filter((e) => e.action === 'download')).toEqual([
      expect.objectContaining({ actor: 'erin', details: expect.objectContaining({ delivery: 'stream' }) }),
    ]);
  });

  it('refuses an existing output file before asking the API anything (so nothing is recorded)', async () => {
    const out = path.join(dir, 'exists.jpg');
    await writeFile(out, 'keep me');
    f.custodyEvents.length = 0;
    f.touched.length = 0;
    const res = await cli('erin', ['examiner'], 'download', 'PHONE-1', stored.memberFileId, '-o', out);
    expect(res.code).toBe(EXIT.error);
    expect(res.err).toMatch(/exists\.jpg already exists; choose another name/);
    expect(await readFile(out, 'utf8')).toBe('keep me');
    expect(f.custodyEvents).toEqual([]);
    expect(f.touched).toEqual([]);
  });

  it('keeps nothing when the stored bytes do not match the recorded SHA-256 (exit 3), nor when refused', async () => {
    const wrongId = memberFileId(stored.rootFileId, 31);
    await f.index.insertFiles([
      {
        fileId: wrongId,
        caseId: 'PHONE-1',
        evidenceId: 'EX01',
        parentId: stored.rootFileId,
        entryIndex: 31,
        depth: 1,
        path: 'stored.zip!/bad.jpg',
        recordedName: 'bad.jpg',
        name: 'bad.jpg',
        extension: 'jpg',
        entryKind: 'file',
        size: stored.memberBytes.length,
        sha256: 'ab'.repeat(32),
        source: { container: f.deps.containers.evidence, name: stored.blobName, offset: stored.memberOffset },
        archiveTimes: {},
        flags: [],
        stage: 'indexed',
        failure: null,
      },
    ]);
    const before = await readdir(dir);
    const bad = await cli('erin', ['examiner'], 'download', 'PHONE-1', wrongId, '-o', path.join(dir, 'bad.jpg'));
    expect(bad.code).toBe(EXIT.integrity);
    expect(bad.err).toMatch(/SHA-256/);
    const investigator = await cli('ivan', ['investigator'], 'download', 'PHONE-1', stored.memberFileId, '-o', path.join(dir, 'ivan.jpg'));
    expect(investigator.code).toBe(EXIT.error);
    expect(await readdir(dir)).toEqual(before);
  });
});
