import { createHash } from 'node:crypto';
import { errorMessage, MAX_MESSAGE_ID_CHARS, type IndexStore, type Logger, type StageLeaseKey } from '@exhibit/core';

/**
 * The stage lease (migration 0230): one delivery at a time does the long
 * single-item work of a queue (unpack, hash: `leased` in the stage graph) on
 * one item. A message whose lock was lost is delivered again while its first
 * delivery still runs; without the lease both read the whole archive or
 * upload (measured on the 4 GiB image bench: 1.66 times its bytes) and both
 * charge their time to the item's unpack budget. The stage runner takes it,
 * renews it while the stage runs and releases it when the stage ends; a
 * delivery that finds another's live lease does no work and sends a copy of
 * itself for when that lease expires (heldCopyId). Correctness does not rest
 * on it: the stages' continuation points are ETag-guarded, so a lease lost
 * to a stalled index only lets the old double work happen again.
 */

/** A lease this delivery holds: renewed in the background until released. */
export interface HeldStageLease {
  /** Stops renewing and deletes the lease; never throws (the lease expires by itself). */
  release(): Promise<void>;
}

export type StageLeaseTake = { held: HeldStageLease } | { heldBy: { holder: string; messageId: string; expiresInMs: number } };

/**
 * Takes the lease for `key.holder` (a throw is a retryable fault of the
 * index), then renews it every third of `leaseMs` until released. A renewal
 * never overlaps the one before (a slow index would otherwise send them on
 * top of each other); a failed renewal is logged, and one that finds the lease
 * gone (it lapsed and another delivery took it over) stops renewing.
 */
export async function takeStageLease(index: IndexStore, key: StageLeaseKey & { messageId: string }, leaseMs: number, logger: Logger): Promise<StageLeaseTake> {
  const took = await index.acquireStageLease(key, leaseMs);
  if (!took.acquired) return { heldBy: { holder: took.holder, messageId: took.messageId, expiresInMs: took.expiresInMs } };
  const lease = { queue: key.queue, subjectId: key.subjectId, holder: key.holder };
  let renewing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  const renew = async () => {
    try {
      if (!(await index.renewStageLease(lease, leaseMs))) {
        logger.warn({ lease }, 'stage lease lost: it lapsed and another delivery took it over; this one runs on (its writes are guarded)');
        stop();
      }
    } catch (err) {
      logger.warn({ lease, err: errorMessage(err) }, 'stage lease renewal failed; trying again at the next beat');
    }
  };
  if (leaseMs > 0) {
    timer = setInterval(() => {
      renewing ??= renew().finally(() => (renewing = null));
    }, Math.max(1, Math.floor(leaseMs / 3)));
    timer.unref();
  }
  return {
    held: {
      release: async () => {
        stop();
        // A renewal in flight finishes first, so it cannot land after the delete (it would find no row anyway).
        await renewing;
        try {
          await index.releaseStageLease(lease);
        } catch (err) {
          logger.warn({ lease, err: errorMessage(err) }, 'stage lease release failed; it expires by itself');
        }
      },
    },
  };
}

/** What a held copy's id ends in: `:held-<8 hex of the holder>-<generation>`. */
const HELD_SUFFIX = /:held-([0-9a-f]{8})-(\d{1,6})$/;

/**
 * The message id a stage sees: a held copy's id without its suffix, so the
 * keys stages read from the id (continuations, re-drives, waits) are the
 * original message's.
 */
export function originalMessageId(messageId: string): string {
  return messageId.replace(HELD_SUFFIX, '');
}

/** How many held copies deep this message is (0: not a copy). */
export function heldGeneration(messageId: string): number {
  const m = HELD_SUFFIX.exec(messageId);
  return m ? Number(m[2]) : 0;
}

/**
 * The id of the copy a delivery sends when it finds `holder`'s live lease, or
 * null when it would be longer than a Service Bus message id may be. Derived
 * from the original message id and the holder, so twins of one holder send
 * the same copy (duplicate detection drops the repeat) and it never collides
 * with the original id, which duplicate detection would drop for up to an
 * hour. The generation (the copy's own plus one) keeps a copy that finds the
 * same holder still running from sending its own id again, which would be
 * dropped and the work lost.
 */
export function heldCopyId(messageId: string, holder: string): string | null {
  const tag = createHash('sha256').update(holder).digest('hex').slice(0, 8);
  const id = `${originalMessageId(messageId)}:held-${tag}-${heldGeneration(messageId) + 1}`;
  return id.length <= MAX_MESSAGE_ID_CHARS ? id : null;
}
