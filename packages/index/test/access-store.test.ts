import { loadTestSettings } from '@exhibit/core';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AccessStore } from '@exhibit/core';
import { createPostgresAccessStore } from '../src/access-store.postgres.js';
import { migrate } from '../src/migrate.js';
import { openSqlClient, type SqlClient } from '../src/sql-client.js';

/**
 * Runs against in-memory PGlite always, and against a real PostgreSQL server
 * (in a fresh database, dropped afterwards) when DATABASE_URL is set.
 */
interface Backend {
  name: string;
  /** url: the database's address, for a second connection (a server only: PGlite in memory has one session). */
  open(): Promise<{ sql: SqlClient; url?: string; dispose(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'pglite',
    async open() {
      const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
      return { sql, dispose: () => sql.close() };
    },
  },
];

const serverUrl = loadTestSettings().databaseUrl;
if (serverUrl) {
  backends.push({
    name: 'postgres',
    async open() {
      const admin = await openSqlClient({ kind: 'postgres', url: serverUrl, entraAuth: false });
      const db = `exhibit_access_${randomBytes(6).toString('hex')}`;
      await admin.exec(`CREATE DATABASE ${db}`);
      const url = new URL(serverUrl);
      url.pathname = `/${db}`;
      const sql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
      return {
        sql,
        url: url.toString(),
        async dispose() {
          await sql.close();
          await admin.exec(`DROP DATABASE IF EXISTS ${db}`);
          await admin.close();
        },
      };
    },
  });
}

describe.each(backends)('PostgresAccessStore on $name', (backend) => {
  let sql: SqlClient;
  let url: string | undefined;
  let dispose: () => Promise<void>;
  let access: AccessStore;

  beforeAll(async () => {
    ({ sql, url, dispose } = await backend.open());
    await migrate(sql);
    access = createPostgresAccessStore(sql);
  });
  afterAll(async () => {
    await dispose();
  });

  it('assigns once, and a repeated identical assignment changes nothing', async () => {
    const first = await access.assign('CASE-A', 'alice', { by: 'sup' });
    expect(first.changed).toBe(true);
    expect(first.previous).toBeNull();
    expect(first.assignment).toMatchObject({ caseId: 'CASE-A', user: 'alice', role: null, assignedBy: 'sup' });
    expect(Number.isNaN(Date.parse(first.assignment.assignedAt))).toBe(false);

    const again = await access.assign('CASE-A', 'alice', { by: 'someone-else', role: null });
    expect(again.changed).toBe(false);
    expect(again.assignment.assignedBy).toBe('sup');
    expect(await access.isAssigned('CASE-A', 'alice')).toBe(true);
    expect(await access.isAssigned('CASE-A', 'bob')).toBe(false);
    expect(await access.isAssigned('CASE-B', 'alice')).toBe(false);
  });

  it('changes the role and keeps the previous one in the result and the history', async () => {
    await access.assign('CASE-R', 'carol', { by: 'sup', role: 'examiner' });
    const changed = await access.assign('CASE-R', 'carol', { by: 'admin', role: 'investigator' });
    expect(changed.changed).toBe(true);
    expect(changed.previous?.role).toBe('examiner');
    expect(changed.assignment).toMatchObject({ role: 'investigator', assignedBy: 'admin' });
    expect((await access.getAssignment('CASE-R', 'carol'))?.role).toBe('investigator');

    const removed = await access.unassign('CASE-R', 'carol', { by: 'admin' });
    expect(removed).toMatchObject({ changed: true, previous: { role: 'investigator' } });
    expect(await access.unassign('CASE-R', 'carol', { by: 'admin' })).toEqual({ changed: false, previous: null });
    expect(await access.getAssignment('CASE-R', 'carol')).toBeNull();

    const history = await access.assignmentHistory('CASE-R');
    expect(history.map((h) => [h.action, h.role, h.previousRole, h.changedBy])).toEqual([
      ['assigned', 'examiner', null, 'sup'],
      ['role-changed', 'investigator', 'examiner', 'admin'],
      ['unassigned', null, 'investigator', 'admin'],
    ]);
  });

  it('lists cases per user and users per case in a stable order', async () => {
    for (const c of ['Z-9', 'A-1', 'm-5']) await access.assign(c, 'dave', { by: 'sup' });
    await access.assign('A-1', 'erin', { by: 'sup', role: 'supervisor' });
    await access.assign('A-1', 'Bob', { by: 'sup' });
    expect((await access.casesFor('dave')).map((a) => a.caseId)).toEqual(['A-1', 'Z-9', 'm-5']);
    expect((await access.listAssignments('A-1')).map((a) => [a.user, a.role])).toEqual([
      ['Bob', null],
      ['dave', null],
      ['erin', 'supervisor'],
    ]);
    expect(await access.casesFor('nobody')).toEqual([]);
  });

  it('upn-case-differs-unassign-removed-nothing: UPNs compare case-insensitively in assign, unassign, checks and lists', async () => {
    await access.assign('CASE-U', 'Frank@Example.org', { by: 'sup' });
    expect(await access.isAssigned('CASE-U', 'frank@example.org')).toBe(true);
    expect((await access.casesFor('FRANK@example.ORG')).map((a) => a.caseId)).toEqual(['CASE-U']);
    // The same person again, typed differently: no second row, the name as first typed.
    const again = await access.assign('CASE-U', 'frank@example.org', { by: 'sup2', role: 'investigator' });
    expect(again).toMatchObject({ changed: true, assignment: { user: 'Frank@Example.org', role: 'investigator' } });
    expect((await access.listAssignments('CASE-U')).map((a) => a.user)).toEqual(['Frank@Example.org']);
    const removed = await access.unassign('CASE-U', 'frank@example.org', { by: 'sup' });
    expect(removed).toMatchObject({ changed: true, previous: { user: 'Frank@Example.org' } });
    expect(await access.isAssigned('CASE-U', 'Frank@Example.org')).toBe(false);
    expect((await access.assignmentHistory('CASE-U')).map((h) => [h.action, h.user])).toEqual([
      ['assigned', 'Frank@Example.org'],
      ['role-changed', 'Frank@Example.org'],
      ['unassigned', 'Frank@Example.org'],
    ]);
  });

  it('keeps local user names exact: alice and Alice are two local users', async () => {
    await access.assign('CASE-L', 'Alice', { by: 'sup' });
    expect(await access.isAssigned('CASE-L', 'alice')).toBe(false);
    expect(await access.unassign('CASE-L', 'alice', { by: 'sup' })).toEqual({ changed: false, previous: null });
    expect(await access.isAssigned('CASE-L', 'Alice')).toBe(true);
  });

  it('entra-upn-reused-by-another-oid-denied: an assignment by UPN binds to the oid of its first sign-in', async () => {
    const OID_A = '0a0a0a0a-1111-2222-3333-444444444444';
    const OID_B = '0b0b0b0b-1111-2222-3333-444444444444';
    await access.assign('CASE-O', 'Hana@contoso.example', { by: 'sup' });
    await access.assign('CASE-O2', 'hana@contoso.example', { by: 'sup' });
    // Hana signs in: the assignment she matches by name is now her object id's.
    const first = await access.getAssignment('CASE-O', { name: 'hana@contoso.example', objectId: OID_A });
    expect(first).toMatchObject({ user: 'Hana@contoso.example', objectId: OID_A });
    // Renamed (new UPN, same oid): still hers.
    expect(await access.getAssignment('CASE-O', { name: 'hana.k@contoso.example', objectId: OID_A })).toMatchObject({ objectId: OID_A });
    // Her old UPN given to someone else: nothing, on this case; CASE-O2 is bound to whoever signs in first (B here).
    expect(await access.getAssignment('CASE-O', { name: 'hana@contoso.example', objectId: OID_B })).toBeNull();
    expect((await access.casesFor({ name: 'hana@contoso.example', objectId: OID_B })).map((a) => a.caseId)).toEqual(['CASE-O2']);
    expect((await access.casesFor({ name: 'hana.k@contoso.example', objectId: OID_A })).map((a) => a.caseId)).toEqual(['CASE-O']);
    // A local token with the name matches no bound assignment.
    expect(await access.getAssignment('CASE-O', 'hana@contoso.example')).toBeNull();
    // The supervisor removes her by the name assigned, or by object id (typed in any case).
    expect(await access.unassign('CASE-O', OID_A.toUpperCase(), { by: 'sup' })).toMatchObject({ changed: true, previous: { objectId: OID_A } });
    expect((await access.assignmentHistory('CASE-O')).map((h) => [h.action, h.objectId ?? null, h.changedBy])).toEqual([
      ['assigned', null, 'sup'],
      ['bound', OID_A, 'hana@contoso.example'],
      ['unassigned', OID_A, 'sup'],
    ]);
    // Assigned by object id: only that object id gets it, whatever its name.
    await access.assign('CASE-O3', OID_A.toUpperCase(), { by: 'sup' });
    expect(await access.getAssignment('CASE-O3', { name: 'someone@contoso.example', objectId: OID_B })).toBeNull();
    expect(await access.getAssignment('CASE-O3', { name: 'hana.k@contoso.example', objectId: OID_A })).toMatchObject({ objectId: OID_A });
  });

  it('entra-reassigned-under-new-upn-left-unbound-for-next-holder: a second name of a bound user merges into their assignment', async () => {
    const OID = '0c0c0c0c-1111-2222-3333-444444444444';
    await access.assign('CASE-RN', 'ren@contoso.example', { by: 'sup', role: 'investigator' });
    expect(await access.getAssignment('CASE-RN', { name: 'ren@contoso.example', objectId: OID })).toMatchObject({ objectId: OID });
    // Renamed; the supervisor, not knowing, assigns the new UPN (a later decision: examiner).
    await access.assign('CASE-RN', 'ren.new@contoso.example', { by: 'sup2', role: 'examiner' });
    const signedIn = await access.getAssignment('CASE-RN', { name: 'ren.new@contoso.example', objectId: OID });
    // The narrower role stays (investigator is within examiner): a merge never widens.
    expect(signedIn).toMatchObject({ user: 'ren@contoso.example', objectId: OID, role: 'investigator', assignedBy: 'sup' });
    // One assignment, bound: nothing unbound is left under the new UPN for whoever holds it next.
    expect((await access.listAssignments('CASE-RN')).map((a) => [a.user, a.objectId ?? null, a.role])).toEqual([['ren@contoso.example', OID, 'investigator']]);
    expect(await access.getAssignment('CASE-RN', { name: 'ren.new@contoso.example', objectId: '0d0d0d0d-1111-2222-3333-444444444444' })).toBeNull();
    expect((await access.assignmentHistory('CASE-RN')).map((h) => [h.action, h.user, h.role, h.previousRole])).toEqual([
      ['assigned', 'ren@contoso.example', 'investigator', null],
      ['bound', 'ren@contoso.example', 'investigator', 'investigator'],
      ['assigned', 'ren.new@contoso.example', 'examiner', null],
      ['merged', 'ren.new@contoso.example', 'investigator', 'examiner'],
    ]);
    await access.assignmentCustodyRecorded((await access.pendingAssignmentCustody({ caseIds: ['CASE-RN'], limit: 10 })).map((c) => c.changeId));
  });

  it('signin-merge-widened-role-unrecorded: a sign-in merge keeps the narrower role and leaves its changes pending custody', async () => {
    const OID = 'eeeeeeee-0000-0000-0000-000000000006';
    await access.assign('CASE-C5', 'alice@contoso.example', { role: 'investigator', by: 'sup' });
    const bound = await access.resolveAssignment('CASE-C5', { name: 'alice@contoso.example', objectId: OID });
    expect(bound).toMatchObject({ assignments: { objectId: OID, role: 'investigator' }, custodyPending: true });
    // Renamed to mallory@ (same oid); a supervisor assigns that name with the token's roles.
    await access.assign('CASE-C5', 'mallory@contoso.example', { role: null, by: 'sup' });
    const merged = await access.resolveAssignment('CASE-C5', { name: 'mallory@contoso.example', objectId: OID });
    expect(merged).toMatchObject({ assignments: { user: 'alice@contoso.example', role: 'investigator' }, custodyPending: true });
    expect((await access.listAssignments('CASE-C5')).map((a) => [a.user, a.role])).toEqual([['alice@contoso.example', 'investigator']]);
    const pending = await access.pendingAssignmentCustody({ caseIds: ['CASE-C5'], limit: 10 });
    expect(pending.map((c) => [c.action, c.user, c.role, c.previousRole, c.objectId, c.changedBy])).toEqual([
      ['bound', 'alice@contoso.example', 'investigator', 'investigator', OID, 'alice@contoso.example'],
      ['merged', 'mallory@contoso.example', 'investigator', null, OID, 'mallory@contoso.example'],
    ]);
    await access.assignmentCustodyRecorded(pending.map((c) => c.changeId));
    expect(await access.pendingAssignmentCustody({ caseIds: ['CASE-C5'], limit: 10 })).toEqual([]);
    expect(await access.resolveAssignment('CASE-C5', { name: 'mallory@contoso.example', objectId: OID })).toMatchObject({ custodyPending: false });

    // The dup is the narrower: the bound one narrows to it (recorded as a role change too).
    await access.assign('CASE-C6', 'nia@contoso.example', { role: null, by: 'sup' });
    await access.getAssignment('CASE-C6', { name: 'nia@contoso.example', objectId: OID });
    await access.assign('CASE-C6', 'nia.b@contoso.example', { role: 'investigator', by: 'sup' });
    expect(await access.getAssignment('CASE-C6', { name: 'nia.b@contoso.example', objectId: OID })).toMatchObject({ user: 'nia@contoso.example', role: 'investigator' });
    expect((await access.assignmentHistory('CASE-C6')).slice(-2).map((h) => [h.action, h.user, h.role, h.previousRole])).toEqual([
      ['role-changed', 'nia@contoso.example', 'investigator', null],
      ['merged', 'nia.b@contoso.example', 'investigator', 'investigator'],
    ]);

    // Neither within the other (examiner uploads, supervisor manages): nothing merged, the bound one serves.
    await access.assign('CASE-C7', 'olu@contoso.example', { role: 'examiner', by: 'sup' });
    await access.getAssignment('CASE-C7', { name: 'olu@contoso.example', objectId: OID });
    await access.assign('CASE-C7', 'olu.b@contoso.example', { role: 'supervisor', by: 'sup' });
    expect(await access.getAssignment('CASE-C7', { name: 'olu.b@contoso.example', objectId: OID })).toMatchObject({ user: 'olu@contoso.example', role: 'examiner' });
    expect((await access.listAssignments('CASE-C7')).map((a) => [a.user, a.role])).toEqual([
      ['olu.b@contoso.example', 'supervisor'],
      ['olu@contoso.example', 'examiner'],
    ]);
    await access.assignmentCustodyRecorded((await access.pendingAssignmentCustody({ limit: 100 })).map((c) => c.changeId));
  });

  it('guid-named-token-binds-oid-assignment: an assignment by object id matches only that oid, never a token named by the GUID', async () => {
    const OID_A = 'aaaaaaaa-0000-0000-0000-000000000001';
    const OID_B = 'bbbbbbbb-0000-0000-0000-000000000002';
    const made = await access.assign('CASE-G', OID_B.toUpperCase(), { role: 'examiner', by: 'sup' });
    expect(made.assignment).toMatchObject({ objectId: OID_B });
    expect(await access.getAssignment('CASE-G', { name: OID_B, objectId: OID_A })).toBeNull();
    expect(await access.getAssignment('CASE-G', OID_B)).toBeNull();
    expect(await access.getAssignment('CASE-G', { name: 'bea@contoso.example', objectId: OID_B })).toMatchObject({ objectId: OID_B, role: 'examiner' });
    for (const spelling of [`{${OID_B}}`, OID_B.replaceAll('-', ''), `{${OID_B.replaceAll('-', '')}}`]) {
      await expect(access.assign('CASE-G', spelling, { by: 'sup' })).rejects.toMatchObject({ code: 'invalid-argument' });
    }
  });

  it('reused-upn-assign-changed-old-holders-role: assigning a name bound to an object id is refused, naming the object id', async () => {
    const OLD = '0e0e0e0e-1111-2222-3333-444444444444';
    await access.assign('CASE-RU', 'bob@contoso.example', { role: 'examiner', by: 'sup' });
    await access.getAssignment('CASE-RU', { name: 'bob@contoso.example', objectId: OLD });
    await expect(access.assign('CASE-RU', 'BOB@contoso.example', { role: 'investigator', by: 'sup' })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining(OLD),
    });
    expect((await access.listAssignments('CASE-RU')).map((a) => [a.user, a.role, a.objectId])).toEqual([['bob@contoso.example', 'examiner', OLD]]);
    // By object id the old holder's role changes as asked.
    expect(await access.assign('CASE-RU', OLD, { role: 'investigator', by: 'sup' })).toMatchObject({ changed: true, assignment: { role: 'investigator' } });
  });

  it('bound-name-reassign-same-role-409: assigning a bound name again with its role is unchanged, not a conflict', async () => {
    const OID = '0f0f0f0f-1111-2222-3333-444444444444';
    await access.assign('CASE-RS', 'cy@contoso.example', { role: 'examiner', by: 'sup' });
    await access.getAssignment('CASE-RS', { name: 'cy@contoso.example', objectId: OID });
    expect(await access.assign('CASE-RS', 'Cy@contoso.example', { role: 'examiner', by: 'sup' })).toMatchObject({
      changed: false,
      assignment: { user: 'cy@contoso.example', role: 'examiner', objectId: OID },
    });
    await expect(access.assign('CASE-RS', 'cy@contoso.example', { role: null, by: 'sup' })).rejects.toMatchObject({ code: 'conflict' });
    expect((await access.assignmentHistory('CASE-RS')).map((h) => h.action)).toEqual(['assigned', 'bound']);
  });

  it('records exactly one assignment when the same user is assigned concurrently', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => access.assign('CASE-C', 'gina', { by: 'sup', role: 'examiner' })));
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect((await access.assignmentHistory('CASE-C')).map((h) => h.action)).toEqual(['assigned']);
  });

  it('refuses a role the schema does not know', async () => {
    await expect(access.assign('CASE-X', 'hank', { by: 'sup', role: 'owner' as never })).rejects.toThrow();
    expect(await access.isAssigned('CASE-X', 'hank')).toBe(false);
  });

  describe('download tickets (0102)', () => {
    const ticket = (n: number, over: Partial<{ user: string; caseId: string; issuedAt: string; expiresAt: string }> = {}) => ({
      ticketSha256: n.toString(16).padStart(64, '0'),
      purpose: 'download' as const,
      user: 'erin',
      caseId: 'CASE-T',
      fileId: `f${n}`,
      roles: ['examiner' as const, 'supervisor' as const],
      issuedAt: '2026-01-01T10:00:00.000Z',
      expiresAt: '2026-01-01T10:10:00.000Z',
      ...over,
    });

    beforeEach(async () => {
      // A ticket is stored only for a user assigned to its case.
      await access.assign('CASE-T', 'erin', { by: 'ada' });
      await access.assign('CASE-T', 'sam', { by: 'ada' });
      await access.assign('CASE-U', 'erin', { by: 'ada' });
    });

    it('stores a ticket by its hash and reads it back', async () => {
      expect(await access.issueDownloadTicket(ticket(1))).toBe(true);
      expect(await access.getDownloadTicket(ticket(1).ticketSha256)).toEqual(ticket(1));
      expect(await access.getDownloadTicket(ticket(999).ticketSha256)).toBeNull();
    });

    it("deletes a user's tickets for the case when they are unassigned, and only theirs", async () => {
      await access.assign('CASE-T', 'erin', { by: 'ada' });
      await access.issueDownloadTicket(ticket(2));
      await access.issueDownloadTicket(ticket(3, { user: 'sam' }));
      await access.issueDownloadTicket(ticket(4, { caseId: 'CASE-U' }));
      await access.unassign('CASE-T', 'erin', { by: 'ada' });
      expect(await access.getDownloadTicket(ticket(2).ticketSha256)).toBeNull();
      expect(await access.getDownloadTicket(ticket(3).ticketSha256)).not.toBeNull();
      expect(await access.getDownloadTicket(ticket(4).ticketSha256)).not.toBeNull();
    });

    it('clears expired tickets when issuing', async () => {
      await access.issueDownloadTicket(ticket(5));
      await access.issueDownloadTicket(ticket(6, { issuedAt: '2026-01-02T00:00:00.000Z', expiresAt: '2026-01-02T00:10:00.000Z' }));
      expect(await access.getDownloadTicket(ticket(5).ticketSha256)).toBeNull();
      expect(await access.getDownloadTicket(ticket(6).ticketSha256)).not.toBeNull();
    });

    it('stores nothing for a user who is not assigned to the case (any more)', async () => {
      await access.unassign('CASE-T', 'erin', { by: 'ada' });
      expect(await access.issueDownloadTicket(ticket(9))).toBe(false);
      expect(await access.getDownloadTicket(ticket(9).ticketSha256)).toBeNull();
      expect(await access.issueDownloadTicket(ticket(10, { caseId: 'CASE-V' }))).toBe(false);
    });

    // Regression guard of the FOR SHARE in issueDownloadTicket: nothing else tested it, and without it a
    // ticket is stored while an unassignment (which deletes the user's tickets) holds the assignment row,
    // and is handed out. Needs a second session holding locks: a server only (PGlite in memory has one
    // connection, so these are skipped there).
    describe.runIf(backend.name === 'postgres')('against an unassignment in another session (server only)', () => {
      let other: pg.Client;
      beforeAll(async () => {
        other = new pg.Client({ connectionString: url });
        await other.connect();
      });
      afterAll(async () => {
        await other?.end();
      });
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true, () => true), sleep(ms).then(() => false)]);
      const ticketsOf = async (user: string) => Number((await sql.query<{ n: number }>('SELECT count(*)::int AS n FROM download_tickets WHERE case_id = $1 AND user_name = $2', ['CASE-T', user])).rows[0]!.n);

      it('racing-first-signin-answered-before-bound-custody: both requests of one oid see the bind as pending custody', async () => {
        const otherSql = await openSqlClient({ kind: 'postgres', url: url!, entraAuth: false });
        const otherStore = createPostgresAccessStore(otherSql);
        const who = { name: 'pat@contoso.example', objectId: '11111111-1111-1111-1111-111111111111' };
        try {
          let unflagged = 0;
          for (let i = 0; i < 40; i++) {
            const c = `RACE-${i}`;
            await access.assign(c, who.name, { role: 'examiner', by: 'sup' });
            const both = await Promise.all([access.resolveAssignment(c, who), otherStore.resolveAssignment(c, who)]);
            for (const r of both) {
              expect(r.assignments?.objectId).toBe(who.objectId);
              if (!r.custodyPending) unflagged++;
            }
          }
          expect(unflagged).toBe(0);
        } finally {
          await sql.query(`UPDATE case_assignment_history SET custody_pending = false WHERE case_id LIKE 'RACE-%'`);
          await otherSql.close();
        }
      });

      it('download-link-issued-while-unassignment-holds-assignment-row', async () => {
        // The unassignment has locked and is deleting the row (and the user's tickets) when the link is issued.
        await other.query('BEGIN');
        try {
          await other.query(`SELECT 1 FROM case_assignments WHERE case_id = 'CASE-T' AND user_name = 'erin' FOR UPDATE`);
          const issuing = access.issueDownloadTicket(ticket(20, { issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString() }));
          // It waits for the unassignment to end…
          expect(await settledWithin(issuing, 300)).toBe(false);
          await other.query(`DELETE FROM case_assignments WHERE case_id = 'CASE-T' AND user_name = 'erin'`);
          await other.query(`DELETE FROM download_tickets WHERE case_id = 'CASE-T' AND user_name = 'erin'`);
          await other.query('COMMIT');
          // …then finds the user unassigned and stores nothing.
          expect(await issuing).toBe(false);
        } finally {
          await other.query('ROLLBACK').catch(() => undefined);
        }
        expect(await ticketsOf('erin')).toBe(0);
      });

      it('unassignment while a download link is being stored', async () => {
        // A link being issued (as issueDownloadTicket does: the row FOR SHARE, then the insert) when the unassignment runs.
        const t = ticket(21, { issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString() });
        await other.query('BEGIN');
        let unassigning: Promise<unknown> | null = null;
        try {
          await other.query(`SELECT 1 FROM case_assignments WHERE case_id = 'CASE-T' AND user_name = 'erin' FOR SHARE`);
          await other.query(
            `INSERT INTO download_tickets (ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at) VALUES ($1, 'erin', 'CASE-T', $2, $3, $4, $5)`,
            [t.ticketSha256, t.fileId, t.roles, t.issuedAt, t.expiresAt],
          );
          unassigning = access.unassign('CASE-T', 'erin', { by: 'sam' });
          // The unassignment waits for the link to be in…
          expect(await settledWithin(unassigning, 300)).toBe(false);
          await other.query('COMMIT');
        } finally {
          await other.query('ROLLBACK').catch(() => undefined);
        }
        // …and then deletes it with the assignment.
        expect(await unassigning).toMatchObject({ changed: true });
        expect(await ticketsOf('erin')).toBe(0);
        expect(await access.getDownloadTicket(t.ticketSha256)).toBeNull();
      });
    });

    it('refuses a malformed hash or an expiry before the issue', async () => {
      await expect(access.issueDownloadTicket({ ...ticket(7), ticketSha256: 'not-a-hash' })).rejects.toThrow();
      await expect(access.issueDownloadTicket(ticket(8, { expiresAt: '2025-12-31T00:00:00.000Z' }))).rejects.toThrow();
    });
  });

  describe('new cases, claims and upload registrations (0101)', () => {
    it('a case is new until anyone is assigned, claims it, registers for it or evidence of it is received', async () => {
      expect(await access.isNewCase('NEW-A')).toBe(true);
      await access.assign('NEW-A', 'ivy', { by: 'ada' });
      expect(await access.isNewCase('NEW-A')).toBe(false);
      await access.unassign('NEW-A', 'ivy', { by: 'ada' });
      // Assigned once, unassigned: its history says someone had it; an admin assigns it again.
      expect(await access.isNewCase('NEW-A')).toBe(false);
      expect(await access.claimNewCase('NEW-A', 'mallory', 'examiner')).toBe(false);

      await sql.query(
        `INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, last_modified)
         VALUES ('NEW-B/E1/x.zip', 'NEW-B', 'E1', 'x.zip', 'fnewb', 1, '"e"', now())`,
      );
      expect(await access.isNewCase('NEW-B')).toBe(false);
      expect(await access.claimNewCase('NEW-B', 'mallory', 'examiner')).toBe(false);
      expect(await access.listAssignments('NEW-B')).toEqual([]);
    });

    it('emptied-case-claimable-as-new: a case whose assignments were all removed (0210 keeping none) is not new', async () => {
      await access.assign('NEW-E', 'Sup@contoso.example', { role: 'supervisor', by: 'ada' });
      // What 0210's "keep none" leaves: the rows gone, the history kept.
      await sql.query(`DELETE FROM case_assignments WHERE case_id = 'NEW-E'`);
      expect(await access.isNewCase('NEW-E')).toBe(false);
      expect(await access.claimNewCase('NEW-E', 'mallory', 'examiner')).toBe(false);
      expect(await access.listAssignments('NEW-E')).toEqual([]);
    });

    it('claims a new case once: the claimant is assigned with the role and history; a claimed case stays claimed', async () => {
      expect(await access.claimNewCase('NEW-C', 'erin', 'examiner')).toBe(true);
      expect(await access.getAssignment('NEW-C', 'erin')).toMatchObject({ role: 'examiner', assignedBy: 'erin' });
      expect(await access.assignmentHistory('NEW-C')).toMatchObject([{ user: 'erin', action: 'assigned', role: 'examiner', changedBy: 'erin' }]);
      await access.unassign('NEW-C', 'erin', { by: 'ada' });
      expect(await access.isNewCase('NEW-C')).toBe(false);
      expect(await access.claimNewCase('NEW-C', 'mallory', 'examiner')).toBe(false);
    });

    it('gives a new case to exactly one of many concurrent claimants', async () => {
      const users = Array.from({ length: 6 }, (_, i) => `racer-${i}`);
      const results = await Promise.all(users.map((u) => access.claimNewCase('NEW-RACE', u, 'examiner')));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = users[results.indexOf(true)]!;
      expect((await access.listAssignments('NEW-RACE')).map((a) => a.user)).toEqual([winner]);
      expect(await access.assignmentHistory('NEW-RACE')).toHaveLength(1);
    });

    it('pre-0210-registration-matched-by-reused-upn: an unbound registration binds only to the account its name\'s assignment is bound to', async () => {
      const OID_A = '6a6a6a6a-2222-3333-4444-555555555555';
      const OID_B = '6b6b6b6b-2222-3333-4444-555555555555';
      await access.assign('REG-B', 'Reg@contoso.example', { by: 'ada', role: 'examiner' });
      const r = { blobName: 'REG-B/E1/d.bin', caseId: 'REG-B', evidenceId: 'E1', fileName: 'd.bin', size: 3, uploadedBy: 'reg@contoso.example' };
      await access.registerUpload(r);
      // The name's assignment not bound yet: nobody binds the registration.
      expect((await access.bindUploadRegistration(r.blobName, OID_B))?.uploadedByObjectId).toBeUndefined();
      await access.getAssignment('REG-B', { name: 'REG@contoso.example', objectId: OID_A });
      expect((await access.bindUploadRegistration(r.blobName, OID_B))?.uploadedByObjectId).toBeUndefined();
      expect((await access.bindUploadRegistration(r.blobName, OID_A.toUpperCase()))?.uploadedByObjectId).toBe(OID_A);
      // Bound: stays so.
      expect((await access.bindUploadRegistration(r.blobName, OID_B))?.uploadedByObjectId).toBe(OID_A);
      expect(await access.bindUploadRegistration('REG-B/E1/none.bin', OID_A)).toBeNull();
    });

    it('pre-0210-registrant-assigned-by-oid-409-on-own-upload: binds through the history of the name (merged, or bound and removed), only to the first account it was bound to', async () => {
      const OID_A = '6d6d6d6d-2222-3333-4444-555555555555';
      const OID_B = '6e6e6e6e-2222-3333-4444-555555555555';
      const reg = (c: string) => ({ blobName: `${c}/E1/d.bin`, caseId: c, evidenceId: 'E1', fileName: 'd.bin', size: 3, uploadedBy: 'Rex@contoso.example' });
      // Merged: assigned by name and by object id; his sign-in folds the name's assignment into the other.
      await access.assign('REG-M', 'rex@contoso.example', { by: 'ada', role: 'examiner' });
      await access.assign('REG-M', OID_A, { by: 'ada', role: 'examiner' });
      await access.registerUpload(reg('REG-M'));
      await access.getAssignment('REG-M', { name: 'rex@contoso.example', objectId: OID_A });
      expect((await access.listAssignments('REG-M')).map((a) => a.user)).toEqual([OID_A]);
      expect((await access.bindUploadRegistration(reg('REG-M').blobName, OID_B))?.uploadedByObjectId).toBeUndefined();
      expect((await access.bindUploadRegistration(reg('REG-M').blobName, OID_A))?.uploadedByObjectId).toBe(OID_A);
      // Bound, removed, assigned by object id; then the name given again and bound by a new holder.
      await access.assign('REG-U', 'rex@contoso.example', { by: 'ada', role: 'examiner' });
      await access.registerUpload(reg('REG-U'));
      await access.getAssignment('REG-U', { name: 'rex@contoso.example', objectId: OID_A });
      await access.unassign('REG-U', 'rex@contoso.example', { by: 'ada' });
      // Not on the case any more: not bound.
      expect((await access.bindUploadRegistration(reg('REG-U').blobName, OID_A))?.uploadedByObjectId).toBeUndefined();
      await access.assign('REG-U', OID_A, { by: 'ada', role: 'examiner' });
      await access.assign('REG-U', 'rex@contoso.example', { by: 'ada', role: 'examiner' });
      await access.getAssignment('REG-U', { name: 'rex@contoso.example', objectId: OID_B });
      expect((await access.bindUploadRegistration(reg('REG-U').blobName, OID_B))?.uploadedByObjectId).toBeUndefined();
      expect((await access.bindUploadRegistration(reg('REG-U').blobName, OID_A))?.uploadedByObjectId).toBe(OID_A);
    });

    it('custody-report-omits-pending-assignment-changes-silently: counts a case\'s changes pending custody', async () => {
      await access.assign('REG-P', 'pat@contoso.example', { by: 'ada' });
      expect(await access.countPendingAssignmentCustody('REG-P')).toBe(0);
      await access.getAssignment('REG-P', { name: 'pat@contoso.example', objectId: '6c6c6c6c-2222-3333-4444-555555555555' });
      expect(await access.countPendingAssignmentCustody('REG-P')).toBe(1);
      const pending = await access.pendingAssignmentCustody({ caseIds: ['REG-P'], limit: 10 });
      await access.assignmentCustodyRecorded(pending.map((p) => p.changeId));
      expect(await access.countPendingAssignmentCustody('REG-P')).toBe(0);
    });

    it('keeps the first registration of a blob name, whoever asks later', async () => {
      const r = { blobName: 'NEW-C/E1/phone.zip', caseId: 'NEW-C', evidenceId: 'E1', fileName: 'phone.zip', size: 12 };
      const first = await access.registerUpload({ ...r, uploadedBy: 'erin' });
      expect(first).toMatchObject({ created: true, registration: { ...r, uploadedBy: 'erin' } });
      const second = await access.registerUpload({ ...r, size: 99, uploadedBy: 'mallory' });
      expect(second).toMatchObject({ created: false, registration: { uploadedBy: 'erin', size: 12 } });
      expect(await access.getUploadRegistration(r.blobName)).toMatchObject({ uploadedBy: 'erin' });
      expect(await access.getUploadRegistration('NEW-C/E1/other.zip')).toBeNull();
    });

    it('lists every known case with its assignees and claimant', async () => {
      const all = await access.listAllCases();
      const byId = Object.fromEntries(all.map((c) => [c.caseId, c]));
      expect(byId['NEW-B']).toEqual({ caseId: 'NEW-B', assignees: 0, claimedBy: null });
      expect(byId['NEW-C']).toEqual({ caseId: 'NEW-C', assignees: 0, claimedBy: 'erin' });
      expect(byId['NEW-A']).toBeUndefined();
      expect(all.map((c) => c.caseId)).toEqual([...all.map((c) => c.caseId)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    });
  });
});
