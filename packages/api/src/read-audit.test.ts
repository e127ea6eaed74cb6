import { describe, expect, it } from 'vitest';
import { createRootLogger, type CustodyEvent } from '@exhibit/core';
import type { ApiDeps, Principal } from './api.types.js';
import { ReadAudit } from './read-audit.js';

/** The rate limiter on its own: a recorder that keeps what it is given, and a clock the test moves. */
function harness(limits = { windowMs: 60_000, maxWindows: 100, sweepEveryMs: 1_000 }) {
  const events: CustodyEvent[] = [];
  let failing = false;
  let release: (() => void) | null = null;
  let clock = Date.parse('2026-03-01T00:00:00Z');
  const deps = {
    custody: {
      async record(event: CustodyEvent) {
        if (release === null && failing) throw new Error('custody down');
        if (release !== null) await new Promise<void>((r) => (release = r));
        events.push(structuredClone(event));
      },
    },
    logger: createRootLogger({ level: 'silent' }),
    now: () => new Date(clock),
  } as unknown as ApiDeps;
  return {
    audit: new ReadAudit(deps, limits),
    events,
    advance: (ms: number) => void (clock += ms),
    fail: (on: boolean) => void (failing = on),
    /** Holds every write until the returned function is called. */
    hold() {
      release = () => undefined;
      return () => {
        const r = release;
        release = null;
        r?.();
      };
    },
  };
}

const sam: Principal = { user: 'sam', roles: ['supervisor'], authKind: 'local' };
const ivan: Principal = { user: 'ivan', roles: ['investigator'], authKind: 'local' };
const status = { caseId: 'C1', evidenceId: 'E1', route: 'getEvidenceStatus' };

describe('ReadAudit', () => {
  it('writes one entry for reads that arrive while the first is being written, and counts the rest', async () => {
    const h = harness();
    const releaseWrites = h.hold();
    const reads = [h.audit.record(sam, status), h.audit.record(sam, status), h.audit.record(sam, status)];
    await new Promise((r) => setImmediate(r));
    releaseWrites();
    const results = await Promise.all(reads);
    expect(results.filter((r) => r.written)).toHaveLength(1);
    expect(h.events).toHaveLength(1);
    h.advance(60_000);
    await h.audit.record(sam, status);
    expect(h.events[1]!.details).toMatchObject({ repeatsSincePrevious: 2 });
  });

  it('keeps the count of a window whose next entry could not be written, and writes it with the next read', async () => {
    const h = harness();
    await h.audit.record(sam, status);
    h.advance(10);
    await h.audit.record(sam, status);
    h.advance(60_000);
    h.fail(true);
    await expect(h.audit.record(sam, status)).rejects.toThrow('custody down');
    h.fail(false);
    await h.audit.record(sam, status);
    expect(h.events.map((e) => e.details.repeatsSincePrevious)).toEqual([0, 1]);
  });

  it('keeps a summary that could not be written for the next sweep', async () => {
    const h = harness();
    await h.audit.record(sam, status);
    await h.audit.record(sam, status);
    h.advance(60_000);
    h.fail(true);
    // ivan's own first look fails too (the log is down); sam's summary stays.
    await expect(h.audit.record(ivan, status)).rejects.toThrow();
    h.fail(false);
    h.advance(1_000);
    await h.audit.record(ivan, status);
    expect(h.events.map((e) => [e.actor, e.details.summary ?? false, e.details.repeatsSincePrevious])).toEqual([
      ['sam', false, 0],
      ['sam', true, 1],
      ['ivan', false, 0],
    ]);
  });

  it('writes every open count at shutdown, so a clean stop loses nothing', async () => {
    const h = harness();
    await h.audit.record(sam, status);
    h.advance(5);
    await h.audit.record(sam, status);
    await h.audit.record(ivan, status);
    await h.audit.flush();
    expect(h.events.map((e) => [e.actor, e.details.summary ?? false, e.details.repeatsSincePrevious])).toEqual([
      ['sam', false, 0],
      ['ivan', false, 0],
      ['sam', true, 1],
    ]);
    expect(h.events[2]!.details).toMatchObject({ atShutdown: true });
    expect(h.audit.openWindows).toBe(0);
  });

  it('writes every read once it holds as many open windows as it may, rather than drop any', async () => {
    const h = harness({ windowMs: 60_000, maxWindows: 2, sweepEveryMs: 1_000 });
    await h.audit.record(sam, { ...status, evidenceId: 'E1' });
    await h.audit.record(sam, { ...status, evidenceId: 'E2' });
    for (let i = 0; i < 3; i += 1) await h.audit.record(sam, { ...status, evidenceId: 'E3' });
    expect(h.events.filter((e) => e.evidenceId === 'E3')).toHaveLength(3);
    expect(h.events.filter((e) => e.evidenceId === 'E3').every((e) => e.details.rateLimited === false)).toBe(true);
    expect(h.audit.openWindows).toBe(2);
  });
});
