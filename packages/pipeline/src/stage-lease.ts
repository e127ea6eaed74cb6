import { createHash } from 'node:crypto';
import { errorMessage, type IndexStore, type Logger, type StageLeaseKey } from '@exhibit/core';

/**
 * The stage lease (migration 0230): one delivery at a time does the long
 * single-item work of a queue (unpack, hash: `leased` in the stage graph) on
 * one item. A twin of a message runs beside the live attempt when a
 * continuation is sent again (the reconcile timer re-offers an upload whose
 * hash is taken in the unpack's read, whose hash message sends the unpack's
 * first message again, which re-sends the latest continuation; the local queue
 * has no duplicate detection and Service Bus's window is shorter than an
 * attempt) or when a message's lock is lost while its delivery still runs.
 * Without the lease both read the whole archive or upload (measured on the
 * 4 GiB image bench, twins all from resent continuations: 1.57 times its
 * bytes) and both charge their time to the item's unpack budget; with it, a
 * twin of either kind does not run beside the live attempt. The runner takes it,
 * renews it while the stage runs and releases it when the stage ends; a
 * delivery that finds another's live lease does no work and sends a copy of
 * itself for when that lease expires (heldCopyId, core's heldCopyMark). Correctness does not rest
 * on it: the stages' continuation points are ETag-guarded, so a lease lost
 * to a stalled index only lets the old double work happen again.
 */

/** A lease this delivery holds: renewed in the background until released or abandoned. */
export interface HeldStageLease {
  /** Stops renewing and deletes the lease; never throws, and gives up after a bounded wait (the lease expires by itself). */
  release(): Promise<void>;
  /** Stops renewing without deleting: the lease lapses leaseMs after its last renewal. */
  abandon(): void;
}

export type StageLeaseTake = { held: HeldStageLease } | { heldBy: { holder: string; messageId: string; expiresInMs: number } };

/**
 * How long the runner waits for one lease call of the index (acquire,
 * release); they run outside the stage's deadline, so one the index never
 * answers would otherwise hold the invocation for good.
 */
export function leaseCallTimeoutMs(leaseMs: number): number {
  return Math.max(1_000, Math.floor(leaseMs / 3));
}

const TIMED_OUT = Symbol('timed out');

async function within<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a delivery holds when the index did not answer its acquire in time: nothing to renew or release. */
const NO_LEASE: HeldStageLease = { release: async () => {}, abandon: () => {} };

/**
 * Takes the lease for `key.holder` (a throw is a retryable fault of the
 * index), then renews it every third of `leaseMs` until released. A renewal
 * never overlaps the one before (a slow index would otherwise send them on
 * top of each other); a failed renewal is logged, and one that finds the lease
 * gone (it lapsed and another delivery took it over) stops renewing. An
 * acquire the index does not answer within leaseCallTimeoutMs counts as no
 * lease to be had: the delivery runs without it (logged), as the lease only
 * saves double work; should the acquire land later, it is released at once.
 */
export async function takeStageLease(index: IndexStore, key: StageLeaseKey & { messageId: string }, leaseMs: number, logger: Logger): Promise<StageLeaseTake> {
  const lease = { queue: key.queue, subjectId: key.subjectId, holder: key.holder };
  const callMs = leaseCallTimeoutMs(leaseMs);
  const acquiring = index.acquireStageLease(key, leaseMs);
  const took = await within(acquiring, callMs);
  if (took === TIMED_OUT) {
    logger.warn({ lease, timeoutMs: callMs }, 'stage lease unavailable: the index did not answer its acquire in time; this delivery runs without it (its writes are guarded)');
    acquiring.then(
      (late) => (late.acquired ? index.releaseStageLease(lease) : undefined),
      () => undefined,
    ).catch(() => undefined);
    return { held: NO_LEASE };
  }
  if (!took.acquired) return { heldBy: { holder: took.holder, messageId: took.messageId, expiresInMs: took.expiresInMs } };
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
        // A renewal in flight is not waited for: it may never answer (a half-open connection), and it cannot bring a
        // deleted lease back (it updates this holder's row only; after the delete there is none).
        try {
          if ((await within(index.releaseStageLease(lease), callMs)) === TIMED_OUT) {
            logger.warn({ lease, timeoutMs: callMs }, 'stage lease release not answered in time; abandoned, it expires by itself');
          }
        } catch (err) {
          logger.warn({ lease, err: errorMessage(err) }, 'stage lease release failed; it expires by itself');
        }
      },
      abandon: stop,
    },
  };
}

/** Characters of the original id a held copy's id starts with, for the reader of logs and queues; the digest decides. */
const HELD_ID_HEAD_CHARS = 80;
/** Hex characters of the digest that names a held copy: 128 bits. */
const HELD_ID_DIGEST_CHARS = 32;

/**
 * The id of the copy a delivery sends when it finds `holder`'s live lease:
 * the original id's head and `:held-` with a digest of the original id, the
 * holder and the copy's generation, so at most 80 + 6 + 32 = 118 characters
 * whatever the original's length (Service Bus refuses more than 128; a copy
 * that could not be sent would leave the work to the holder alone). The same
 * inputs give the same id, so twins of one holder send the same copy
 * (Service Bus's duplicate detection drops the repeat; the local storage
 * queue has none, so there each copy is delivered and they defer to each
 * other, harmless); it never equals the original id (no original ends in
 * `:held-<digest>`), which duplicate detection would drop for up to an hour;
 * and the generation (the copy's own plus one) keeps a copy that finds the
 * same holder still running from sending its own id again, which would be
 * dropped and the work lost.
 */
export function heldCopyId(originalId: string, holder: string, generation: number): string {
  const digest = createHash('sha256').update(`${originalId}\n${holder}\n${generation}`).digest('hex').slice(0, HELD_ID_DIGEST_CHARS);
  return `${originalId.slice(0, HELD_ID_HEAD_CHARS)}:held-${digest}`;
}

/** How the previous version named a held copy (its body had no mark): the original id and `:held-<8 hex>-<generation>`. */
const LEGACY_HELD_SUFFIX = /:held-[0-9a-f]{8}-(\d{1,6})$/;

/**
 * A held copy sent by the previous version, still in flight at an upgrade: its original id and generation, or null
 * for any other id. Its stage reads its keys (continuations, re-drives, waits) from the end of the original id; given
 * the copy's, a continuation is taken for a first message. Only for a message without a mark (the runner asks so).
 */
export function legacyHeldCopy(messageId: string): { of: string; generation: number } | null {
  const m = LEGACY_HELD_SUFFIX.exec(messageId);
  return m ? { of: messageId.slice(0, m.index), generation: Number(m[1]) } : null;
}
