import { ExhibitError, type StageLeaseAcquire, type StageLeaseKey } from '@exhibit/core';
import { cleanParams } from './index-store.rows.js';
import type { SqlClient } from './sql-client.js';

/**
 * Leases of long single-item stage work (migration 0230). Expiry is on the
 * database's clock; callers get milliseconds from now.
 */

/**
 * One statement takes the lease (none there, the one there expired, or it is
 * already this holder's) or reads the live holder's. The read half sees the
 * statement's snapshot: a lease another session inserted after it began is
 * invisible to it, so neither half answers and the statement is run again.
 * Likewise a lease that expired: when another session took it over first, the
 * insert half waits for that session and then leaves it alone, while the read
 * half still sees the dead holder's expired row in the old snapshot; it is not
 * answered as the holder (expires_at > now()), and the next run reads the new
 * holder.
 */
const ACQUIRE_SQL = `WITH taken AS (
     INSERT INTO stage_leases (queue, subject_id, holder, message_id, acquired_at, expires_at)
     VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 millisecond')
     ON CONFLICT (queue, subject_id) DO UPDATE SET
       holder = EXCLUDED.holder, message_id = EXCLUDED.message_id, expires_at = EXCLUDED.expires_at,
       acquired_at = CASE WHEN stage_leases.holder = EXCLUDED.holder THEN stage_leases.acquired_at ELSE EXCLUDED.acquired_at END
     WHERE stage_leases.expires_at <= now() OR stage_leases.holder = EXCLUDED.holder
     RETURNING holder, message_id, expires_at
   )
   SELECT true AS acquired, holder, message_id, extract(epoch FROM expires_at - now()) * 1000 AS expires_in_ms FROM taken
   UNION ALL
   SELECT false, holder, message_id, extract(epoch FROM expires_at - now()) * 1000 FROM stage_leases
    WHERE queue = $1 AND subject_id = $2 AND expires_at > now() AND NOT EXISTS (SELECT 1 FROM taken)`;

/** Runs of ACQUIRE_SQL before a lease that keeps appearing and vanishing between snapshots is called a fault. */
const ACQUIRE_TRIES = 3;

export async function acquireStageLease(sql: SqlClient, key: StageLeaseKey & { messageId: string }, leaseMs: number): Promise<StageLeaseAcquire> {
  for (let attempt = 0; attempt < ACQUIRE_TRIES; attempt++) {
    const { rows } = await sql.query<{ acquired: boolean; holder: string; message_id: string; expires_in_ms: string | number }>(
      ACQUIRE_SQL,
      cleanParams([key.queue, key.subjectId, key.holder, key.messageId, Math.max(0, Math.round(leaseMs))]),
    );
    const r = rows[0];
    if (!r) continue;
    const expiresInMs = Math.max(0, Math.round(Number(r.expires_in_ms)));
    if (r.acquired) return { acquired: true, expiresInMs };
    return { acquired: false, holder: r.holder, messageId: r.message_id, expiresInMs };
  }
  throw new ExhibitError('index-unavailable', `stage lease of ${key.queue} ${key.subjectId}: neither taken nor held after ${ACQUIRE_TRIES} tries`);
}

export async function renewStageLease(sql: SqlClient, key: StageLeaseKey, leaseMs: number): Promise<boolean> {
  const { affectedRows } = await sql.query(
    `UPDATE stage_leases SET expires_at = now() + $4::bigint * interval '1 millisecond'
      WHERE queue = $1 AND subject_id = $2 AND holder = $3`,
    cleanParams([key.queue, key.subjectId, key.holder, Math.max(0, Math.round(leaseMs))]),
  );
  return affectedRows === 1;
}

export async function stageLeaseHeld(sql: SqlClient, key: Omit<StageLeaseKey, 'holder'>): Promise<boolean> {
  const { rows } = await sql.query<{ held: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM stage_leases WHERE queue = $1 AND subject_id = $2 AND expires_at > now()) AS held`,
    cleanParams([key.queue, key.subjectId]),
  );
  return rows[0]?.held === true;
}

/**
 * The reconcile pass's candidates for a resend, in one statement: pending uploads old enough whose root file no live
 * lease of the given queues covers. Before, the pass offered every pending upload, and one hashed in its unpack's read
 * stays pending for the whole unpack: each offer's hash message went to that unpack again, beside the live attempt.
 */
export async function listUploadsToOfferAgain(sql: SqlClient, options: { pendingForMs: number; unlessLeasedOn: readonly string[] }): Promise<Set<string>> {
  const { rows } = await sql.query<{ blob_name: string }>(
    `SELECT u.blob_name FROM uploads u
      WHERE u.integrity = 'pending'
        AND u.received_at <= now() - $1::bigint * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM stage_leases l
                         WHERE l.queue = ANY($2::text[]) AND l.subject_id = u.root_file_id AND l.expires_at > now())`,
    cleanParams([Math.max(0, Math.round(options.pendingForMs)), [...options.unlessLeasedOn]]),
  );
  return new Set(rows.map((r) => r.blob_name));
}

export async function releaseStageLease(sql: SqlClient, key: StageLeaseKey): Promise<void> {
  await sql.query(`DELETE FROM stage_leases WHERE queue = $1 AND subject_id = $2 AND holder = $3`, cleanParams([key.queue, key.subjectId, key.holder]));
}

export async function clearStageLeases(sql: SqlClient): Promise<number> {
  const { affectedRows } = await sql.query(`DELETE FROM stage_leases`);
  return affectedRows;
}
