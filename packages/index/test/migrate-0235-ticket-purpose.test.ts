import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresAccessStore, migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';

/**
 * Migration 0235 on a database made before it: a ticket issued before it
 * (all were download links) reads back as 'download'; a new one keeps the
 * purpose it was issued with; the column takes no other value.
 */
describe.each(allTargets())('migration 0235 on $name', (target) => {
  afterAll(() => target.dispose());

  it('ticket-purpose-existing-rows-are-download-new-rows-keep-theirs', async () => {
    const migrations = partialMigrations('migrate-0235');
    afterAll(() => migrations.dispose());
    migrations.add((m) => m < '0235');
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      // A ticket is stored only for an assigned user.
      await createPostgresAccessStore(sql).assign('CASE-P', 'erin', { by: 'ada' });
      await sql.query(
        `INSERT INTO download_tickets (ticket_sha256, user_name, case_id, file_id, roles, issued_at, expires_at)
         VALUES ('${'a'.repeat(64)}', 'erin', 'CASE-P', 'f1', '{examiner}', now(), now() + interval '1 hour')`,
      );
      migrations.add((m) => m >= '0235');
      await migrate(sql, { migrationsDir: migrations.url });
      await migrate(sql, { migrationsDir: migrations.url });
      const access = createPostgresAccessStore(sql);

      expect(await access.getDownloadTicket('a'.repeat(64))).toMatchObject({ purpose: 'download', fileId: 'f1' });
      const issuedAt = new Date().toISOString();
      const expiresAt = new Date(Date.now() + 600_000).toISOString();
      const played = { ticketSha256: 'b'.repeat(64), purpose: 'playback' as const, user: 'erin', caseId: 'CASE-P', fileId: 'f2', roles: ['examiner' as const], issuedAt, expiresAt };
      expect(await access.issueDownloadTicket(played)).toBe(true);
      expect(await access.getDownloadTicket('b'.repeat(64))).toMatchObject({ purpose: 'playback' });
      await expect(
        sql.query(`UPDATE download_tickets SET purpose = 'content' WHERE ticket_sha256 = '${'b'.repeat(64)}'`),
      ).rejects.toThrow();
    } finally {
      await sql.close();
    }
  });
});
