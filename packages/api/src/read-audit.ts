import type { Logger } from '@exhibit/core';
import type { ApiDeps, Principal } from './api.types.js';
import { recordForCase } from './access-events.js';
import { API_LIMITS } from './api-limits.js';

/**
 * Audit of reads that are not of a file (status, evidence and assignment
 * lists, a case listed by /cases): custody action 'read'.
 *
 * Clients poll these (`exhibit status --watch` every few seconds), so each
 * read is not its own entry. Per process, reads are grouped by
 * (user, case, evidence item or '*' for the whole case, route, subject):
 *
 * - the first read of a group is written at once, before the data is
 *   returned, so "who looked at this case" is complete from the first look;
 * - repeats within `API_LIMITS.readAuditWindowMs` of it are counted, not
 *   written;
 * - the next read of the group after the window is written at once and
 *   carries the count (`repeatsSincePrevious`, `firstRepeatAt`,
 *   `lastRepeatAt`); a group that is not read again has its count written as
 *   a summary entry (`summary: true`) by the first request to this process
 *   after the window ends (checked at most every `readAuditSweepEveryMs`).
 *
 * What can be lost: `flush()` (Api.flush, called by the runtime's close)
 * writes open counts on a clean stop; a process that stops otherwise
 * (crash, scale-in) loses the counts of its open windows, never a first look. Past
 * `readAuditMaxWindows` open groups every read is written as it happens.
 */

export interface ReadEvent {
  caseId: string;
  /** 'case' (all its evidence items) or one evidence item. */
  evidenceId?: string;
  /** The route's operationId. */
  route: string;
  /** Evidence items of the case when the caller already has them (saves a query); ignored with evidenceId. */
  caseEvidenceIds?: string[];
  details?: Record<string, unknown>;
  /**
   * What was read when the route names it (a content's SHA-256, an export id): reads of different
   * subjects are different groups, else a repeat would be counted against the first subject's entry
   * and no entry would name the second (nor reach the items holding only it).
   */
  subjectKey?: string;
}

/** The group of a read: its window is shared only by reads of the same thing by the same user. */
function windowKey(principal: Principal, event: ReadEvent): string {
  return JSON.stringify([principal.user, event.caseId, event.evidenceId ?? '*', event.route, event.subjectKey ?? '', event.caseEvidenceIds ?? null]);
}

interface Window {
  principal: Principal;
  event: ReadEvent;
  startedAtMs: number;
  repeats: number;
  firstRepeatAt: string | null;
  lastRepeatAt: string | null;
  /** Set while the first entry of the window is being written. */
  pending: Promise<void> | null;
}

export interface ReadAuditResult {
  /** An entry was written for this read (false: counted as a repeat). */
  written: boolean;
  /** Evidence item logs written to (0 for a case with no evidence yet). */
  logs: number;
}

export class ReadAudit {
  private readonly windows = new Map<string, Window>();
  private lastSweepMs = -Infinity;
  private sweeping = false;

  constructor(
    private readonly deps: ApiDeps,
    private readonly limits: { windowMs: number; maxWindows: number; sweepEveryMs: number } = {
      windowMs: API_LIMITS.readAuditWindowMs,
      maxWindows: API_LIMITS.readAuditMaxWindows,
      sweepEveryMs: API_LIMITS.readAuditSweepEveryMs,
    },
  ) {}

  /** Open windows (for tests and the host's metrics). */
  get openWindows(): number {
    return this.windows.size;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /**
   * Records one read: written at once if it is the first of its group in the
   * window, else counted. Throws (so the request fails, retryable) when the
   * entry that must be written cannot be.
   */
  async record(principal: Principal, event: ReadEvent, options: { logger?: Logger } = {}): Promise<ReadAuditResult> {
    const now = this.now();
    const nowMs = now.getTime();
    await this.sweep(nowMs, event, principal, options.logger);
    const key = windowKey(principal, event);
    let open = this.windows.get(key);
    if (open?.pending) {
      // A first entry is being written: this read is covered once it lands.
      await open.pending.catch(() => undefined);
      open = this.windows.get(key);
    }
    if (open && !open.pending && nowMs - open.startedAtMs < this.limits.windowMs) {
      open.repeats += 1;
      open.firstRepeatAt ??= now.toISOString();
      open.lastRepeatAt = now.toISOString();
      return { written: false, logs: 0 };
    }
    const carried = open && !open.pending ? open : null;
    const details: Record<string, unknown> = { route: event.route, ...event.details, ...repeatDetails(carried) };
    if (!carried && this.windows.size >= this.limits.maxWindows) {
      // Too many open groups to count: write every read rather than drop any.
      const logs = await this.write(principal, event, { ...details, rateLimited: false }, options);
      return { written: true, logs };
    }
    const window: Window = { principal, event, startedAtMs: nowMs, repeats: 0, firstRepeatAt: null, lastRepeatAt: null, pending: null };
    let logs = 0;
    window.pending = this.write(principal, event, details, options).then((n) => {
      logs = n;
    });
    this.windows.set(key, window);
    try {
      await window.pending;
    } catch (err) {
      // Not recorded: the next read of the group writes again, with the old count.
      if (carried) this.windows.set(key, carried);
      else this.windows.delete(key);
      throw err;
    } finally {
      window.pending = null;
    }
    return { written: true, logs };
  }

  /**
   * Writes the count of every open window now, as a summary entry (for a
   * clean shutdown, so a restart loses nothing). Windows with no repeats are
   * forgotten. A summary that cannot be written is logged and dropped.
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    // A stop must not hang on a storage outage: past the deadline the rest are dropped (and logged).
    const abortSignal = AbortSignal.timeout(options.timeoutMs ?? API_LIMITS.readAuditFlushTimeoutMs);
    for (const [key, w] of [...this.windows]) {
      if (w.pending) await w.pending.catch(() => undefined);
      if (this.windows.get(key) !== w) continue;
      this.windows.delete(key);
      if (w.repeats === 0) continue;
      try {
        if (abortSignal.aborted) throw new Error('read audit flush deadline passed');
        await this.write(w.principal, w.event, { route: w.event.route, summary: true, atShutdown: true, ...repeatDetails(w) }, { abortSignal });
      } catch (err) {
        this.deps.logger.error(
          { err, caseId: w.event.caseId, route: w.event.route, user: w.principal.user, repeats: w.repeats },
          'read audit summary not written at shutdown',
        );
      }
    }
  }

  /**
   * Writes the counts of ended windows that were not read again, and forgets
   * ended windows. A summary that cannot be written stays for the next sweep;
   * it does not fail the request that happened to run the sweep.
   */
  private async sweep(nowMs: number, current: ReadEvent, principal: Principal, logger: Logger | undefined): Promise<void> {
    if (this.sweeping || nowMs - this.lastSweepMs < this.limits.sweepEveryMs) return;
    this.lastSweepMs = nowMs;
    this.sweeping = true;
    try {
      const currentKey = windowKey(principal, current);
      for (const [key, w] of [...this.windows]) {
        if (w.pending || nowMs - w.startedAtMs < this.limits.windowMs) continue;
        if (w.repeats === 0) {
          this.windows.delete(key);
          continue;
        }
        // The caller's own group carries its count on the entry it is about to write.
        if (key === currentKey) continue;
        // Pending while written, so a read of the group meanwhile waits and then starts afresh instead of counting it twice.
        w.pending = this.write(w.principal, w.event, { route: w.event.route, summary: true, ...repeatDetails(w) }, {}).then(() => {
          this.windows.delete(key);
        });
        try {
          await w.pending;
        } catch (err) {
          (logger ?? this.deps.logger).error({ err, caseId: w.event.caseId, route: w.event.route, user: w.principal.user }, 'read audit summary not written; kept for the next sweep');
        } finally {
          w.pending = null;
        }
      }
    } finally {
      this.sweeping = false;
    }
  }

  private async write(principal: Principal, event: ReadEvent, details: Record<string, unknown>, options: { abortSignal?: AbortSignal; logger?: Logger }): Promise<number> {
    const evidenceIds = event.evidenceId !== undefined ? [event.evidenceId] : event.caseEvidenceIds;
    const logs = await recordForCase(
      this.deps,
      principal,
      { caseId: event.caseId, ...(evidenceIds ? { evidenceIds } : {}), action: 'read', details },
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
    if (logs === 0) {
      // No evidence item, so no custody log yet: the host log is the record, and the case holds nothing to see.
      (options.logger ?? this.deps.logger).info(
        { audit: 'read', caseId: event.caseId, user: principal.user, route: event.route, ...details },
        'read of a case with no evidence items (no custody log to write to)',
      );
    }
    return logs;
  }
}

function repeatDetails(w: Window | null): Record<string, unknown> {
  if (!w || w.repeats === 0) return { repeatsSincePrevious: 0 };
  return { repeatsSincePrevious: w.repeats, firstRepeatAt: w.firstRepeatAt, lastRepeatAt: w.lastRepeatAt };
}

const audits = new WeakMap<ApiDeps, ReadAudit>();

/** The read audit of this API instance (one per ApiDeps, i.e. per process). */
export function readAuditOf(deps: ApiDeps): ReadAudit {
  let audit = audits.get(deps);
  if (!audit) {
    audit = new ReadAudit(deps);
    audits.set(deps, audit);
  }
  return audit;
}
