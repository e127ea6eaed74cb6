import { randomBytes } from 'node:crypto';
import { loadTestSettings } from '@exhibit/core';
import { expect, it } from 'vitest';
import { createPostgresAccessStore, migrate, openSqlClient, type SqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';

/**
 * Migration 0210 on a database made before it: a case with two assignments
 * whose UPNs differ only in letter case (possible while names compared
 * exactly), each with its history, and a download ticket. After it: one
 * assignment (the more recent), the other recorded as 'merged' into it,
 * no history lost, the ticket still revoked by unassigning either spelling.
 */

/** PGlite always; a fresh database on the PostgreSQL server too when DATABASE_URL is set. */
const backends: Array<[string, () => Promise<{ sql: SqlClient; dispose(): Promise<void> }>]> = [
  ['pglite', async () => {
    const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
    return { sql, dispose: () => sql.close() };
  }],
];
const serverUrl = loadTestSettings().databaseUrl;
if (serverUrl) {
  backends.push(['postgres', async () => {
    const admin = await openSqlClient({ kind: 'postgres', url: serverUrl, entraAuth: false });
    const db = `exhibit_m0210_${randomBytes(6).toString('hex')}`;
    await admin.exec(`CREATE DATABASE ${db}`);
    const url = new URL(serverUrl);
    url.pathname = `/${db}`;
    const sql = await openSqlClient({ kind: 'postgres', url: url.toString(), entraAuth: false });
    return {
      sql,
      async dispose() {
        await sql.close();
        await admin.exec(`DROP DATABASE IF EXISTS ${db}`);
        await admin.close();
      },
    };
  }]);
}

it.each(backends)('assignments-differing-only-in-case-merged-history-kept (%s)', async (_name, open) => {
  // A directory per backend: each database starts from the migrations before 0210.
  const dir = partialMigrations('migrate-0210-run');
  dir.add((m) => m < '0210');
  const { sql, dispose } = await open();
  try {
    await migrate(sql, { migrationsDir: dir.url });
    await sql.exec(`
      INSERT INTO case_assignments (case_id, user_name, role, assigned_by, assigned_at) VALUES
        ('CASE-M', 'Alice@Contoso.example', 'examiner', 'sup', '2026-01-01T00:00:00Z'),
        ('CASE-M', 'alice@contoso.example', 'investigator', 'sup2', '2026-02-01T00:00:00Z'),
        ('CASE-M', 'bob', NULL, 'sup', '2026-01-01T00:00:00Z'),
        ('CASE-M', 'Bob', NULL, 'sup', '2026-01-01T00:00:00Z'),
        ('CASE-N', 'ALICE@contoso.example', NULL, 'sup', '2026-01-01T00:00:00Z');
      INSERT INTO case_assignment_history (case_id, user_name, action, role, previous_role, changed_by) VALUES
        ('CASE-M', 'Alice@Contoso.example', 'assigned', 'examiner', NULL, 'sup'),
        ('CASE-M', 'alice@contoso.example', 'assigned', 'investigator', NULL, 'sup2');
      INSERT INTO download_tickets (ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at) VALUES
        ('${'a'.repeat(64)}', 'Alice@Contoso.example', 'CASE-M', 'f1', '{examiner}', now(), now() + interval '1 hour');
    `);

    dir.add((m) => m >= '0210');
    await migrate(sql, { migrationsDir: dir.url });
    const access = createPostgresAccessStore(sql);

    // The later decision stands; local names differing in case stay two users.
    expect((await access.listAssignments('CASE-M')).map((a) => [a.user, a.role])).toEqual([
      ['Bob', null],
      ['alice@contoso.example', 'investigator'],
      ['bob', null],
    ]);
    expect((await access.assignmentHistory('CASE-M')).map((h) => [h.action, h.user, h.role, h.previousRole, h.changedBy])).toEqual([
      ['assigned', 'Alice@Contoso.example', 'examiner', null, 'sup'],
      ['assigned', 'alice@contoso.example', 'investigator', null, 'sup2'],
      ['merged', 'Alice@Contoso.example', 'investigator', 'examiner', 'migration 0210'],
    ]);
    // Existing assignments keep working: by any spelling, and on first Entra sign-in they bind.
    expect(await access.getAssignment('CASE-N', 'alice@contoso.example')).toMatchObject({ user: 'ALICE@contoso.example' });
    expect(await access.getAssignment('CASE-M', { name: 'ALICE@contoso.example', objectId: '0a0a0a0a-1111-2222-3333-444444444444' })).toMatchObject({
      role: 'investigator',
      objectId: '0a0a0a0a-1111-2222-3333-444444444444',
    });
    // The merged name's ticket is the same person's: unassigning revokes it.
    expect(await access.getDownloadTicket('a'.repeat(64))).not.toBeNull();
    expect((await access.unassign('CASE-M', 'ALICE@CONTOSO.EXAMPLE', { by: 'sup' })).changed).toBe(true);
    expect(await access.getDownloadTicket('a'.repeat(64))).toBeNull();
  } finally {
    await dispose();
    dir.dispose();
  }
});

/**
 * Before 0210 only the row whose spelling the token carried took effect. The merge must never give
 * more than that: keep the row that acted on the case (custody actor), else the narrowest role,
 * else none; every change waits in the history for its custody entry (a migration cannot sign).
 */
it.each(backends)('migration-0210-merge-widened-role (%s)', async (_name, open) => {
  const dir = partialMigrations('migrate-0210-widen');
  dir.add((m) => m < '0210');
  const { sql, dispose } = await open();
  try {
    await migrate(sql, { migrationsDir: dir.url });
    const hash = 'b'.repeat(64);
    await sql.exec(`
      INSERT INTO case_assignments (case_id, user_name, role, assigned_by, assigned_at) VALUES
        -- the later row gives every role of her token: the earlier, narrower one stays
        ('C', 'Alice@Contoso.example', 'investigator', 'sup', '2026-01-01T00:00:00Z'),
        ('C', 'alice@contoso.example', NULL, 'sup2', '2026-02-01T00:00:00Z'),
        -- the one that acted on the case stays, whatever the other's role
        ('D', 'Bob@Contoso.example', 'examiner', 'sup', '2026-01-01T00:00:00Z'),
        ('D', 'bob@contoso.example', 'investigator', 'sup', '2026-02-01T00:00:00Z'),
        -- neither within the other, neither acted: none
        ('E', 'Eve@lab.example', 'examiner', 'sup', '2026-01-01T00:00:00Z'),
        ('E', 'eve@lab.example', 'supervisor', 'sup', '2026-02-01T00:00:00Z'),
        -- made by object id: bound to it
        ('F', 'ABCDEF01-2345-6789-ABCD-EF0123456789', 'examiner', 'sup', '2026-01-01T00:00:00Z');
      INSERT INTO custody_entries (case_id, evidence_id, seq, segment, time, actor, action, subject, details, key_id, prev_hash, entry_hash) VALUES
        ('D', 'EV1', 0, 0, now(), 'Bob@Contoso.example', 'view', '{}', '{}', 'k', '${hash}', '${hash}');
      INSERT INTO download_tickets (ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at) VALUES
        ('${'c'.repeat(64)}', 'eve@lab.example', 'E', 'f1', '{supervisor}', now(), now() + interval '1 hour');
    `);
    dir.add((m) => m >= '0210');
    await migrate(sql, { migrationsDir: dir.url });
    const access = createPostgresAccessStore(sql);
    const list = async (c: string) => (await access.listAssignments(c)).map((a) => [a.user, a.role, a.objectId ?? null]);
    expect(await list('C')).toEqual([['Alice@Contoso.example', 'investigator', null]]);
    expect(await list('D')).toEqual([['Bob@Contoso.example', 'examiner', null]]);
    expect(await list('E')).toEqual([]);
    // emptied-case-claimable-as-new: E had assignments, so it is nobody's to claim; the app names it at start-up.
    expect(await access.isNewCase('E')).toBe(false);
    expect(await access.claimNewCase('E', 'mallory@lab.example', 'examiner')).toBe(false);
    expect(await access.casesEmptiedByMigration()).toEqual(['E']);
    expect(await list('F')).toEqual([['ABCDEF01-2345-6789-ABCD-EF0123456789', 'examiner', 'abcdef01-2345-6789-abcd-ef0123456789']]);
    expect(await access.getDownloadTicket('c'.repeat(64))).toBeNull();
    expect(await access.getAssignment('C', { name: 'alice@contoso.example', objectId: '0a0a0a0a-1111-2222-3333-444444444444' })).toMatchObject({ role: 'investigator' });
    expect(await access.getAssignment('F', { name: 'abcdef01-2345-6789-abcd-ef0123456789', objectId: '0a0a0a0a-1111-2222-3333-444444444444' })).toBeNull();
    // Every change waits for its custody entry, written by the application (access-events.ts).
    const pending = await access.pendingAssignmentCustody({ limit: 100 });
    expect(pending.map((c) => [c.caseId, c.action, c.user, c.role, c.previousRole, c.changedBy])).toEqual(
      expect.arrayContaining([
        ['C', 'merged', 'alice@contoso.example', 'investigator', null, 'migration 0210'],
        ['D', 'merged', 'bob@contoso.example', 'examiner', 'investigator', 'migration 0210'],
        ['E', 'unassigned', 'Eve@lab.example', null, 'examiner', 'migration 0210'],
        ['E', 'unassigned', 'eve@lab.example', null, 'supervisor', 'migration 0210'],
        ['F', 'bound', 'ABCDEF01-2345-6789-ABCD-EF0123456789', 'examiner', 'examiner', 'migration 0210'],
      ]),
    );
    expect(pending).toHaveLength(5 + 1); // and the sign-in bind of C just now
  } finally {
    await dispose();
    dir.dispose();
  }
});
