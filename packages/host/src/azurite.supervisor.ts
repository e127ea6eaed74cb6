import { errorMessage, type Logger } from '@exhibit/core';
import { startAzurite, type AzuriteOptions, type RunningAzurite } from './azurite.process.js';

/** What the host knows about its storage emulator, for /health and the log. */
export interface StorageHealth {
  state: 'up' | 'restarting' | 'failed' | 'stopped';
  /** Restarts after an unexpected exit since the host started. */
  restarts: number;
  pid: number | null;
  /** When the state last changed (ISO 8601). */
  since: string;
  /** Why it is not up: the last exit or start failure. */
  reason?: string;
}

export interface AzuriteSupervisorOptions extends AzuriteOptions {
  /**
   * Unexpected exits tolerated within `crashWindowMs`; one more and the host gives up.
   * Also the number of failed restart attempts in a row before it gives up.
   */
  maxRestarts?: number;
  crashWindowMs?: number;
  /** Back-off before restart attempt n (1-based). */
  restartDelayMs?: (attempt: number) => number;
  /** Storage cannot be brought back: the host must stop, loudly. */
  onGiveUp(reason: string): void;
  /**
   * Runs after a restart, before storage is reported up again: Azurite saves its state every few
   * seconds, so a hard kill can lose containers and queues created just before it; the host makes
   * them again here. A throw counts as a failed restart attempt.
   */
  afterRestart?: () => Promise<void>;
  /** How Azurite is started (tests substitute a process of their own). */
  start?: (options: AzuriteOptions) => Promise<RunningAzurite>;
}

export interface SupervisedAzurite {
  health(): StorageHealth;
  /** Settles once the current Azurite is up (at once when it is); rejects once the supervisor gave up. */
  whenUp(): Promise<void>;
  /** The current process, if any (tests kill it to exercise the supervisor). */
  pid(): number | null;
  stop(): Promise<void>;
}

export const AZURITE_MAX_RESTARTS = 5;
export const AZURITE_CRASH_WINDOW_MS = 10 * 60 * 1000;
/** 0.5 s, 1 s, 2 s, 4 s, … capped at 15 s. */
export function azuriteRestartDelayMs(attempt: number): number {
  return Math.min(15_000, 500 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Starts Azurite and keeps it running on the same data folder and ports. An
 * unexpected exit (kill -9, a crash, the OOM killer) is logged at error and
 * Azurite is started again after a back-off; meanwhile storage calls fail with
 * connection errors, which the queue workers treat as retryable faults. More
 * than `maxRestarts` exits within `crashWindowMs`, or as many failed restart
 * attempts in a row, and the supervisor gives up and says so (`onGiveUp`): a
 * host without storage must stop loudly rather than answer with frozen progress.
 */
export async function superviseAzurite(options: AzuriteSupervisorOptions): Promise<SupervisedAzurite> {
  const start = options.start ?? startAzurite;
  const logger: Logger | undefined = options.logger;
  const maxRestarts = options.maxRestarts ?? AZURITE_MAX_RESTARTS;
  const windowMs = options.crashWindowMs ?? AZURITE_CRASH_WINDOW_MS;
  const delay = options.restartDelayMs ?? azuriteRestartDelayMs;

  let current: RunningAzurite = await start(options);
  let health: StorageHealth = { state: 'up', restarts: 0, pid: current.pid, since: new Date().toISOString() };
  let stopping = false;
  const crashes: number[] = [];
  let waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  let wakeSleeper: (() => void) | undefined;
  let restarting: Promise<void> | undefined;

  const setState = (next: Omit<StorageHealth, 'since' | 'restarts'>) => {
    health = { ...next, restarts: health.restarts, since: new Date().toISOString() };
    if (next.state === 'up') for (const w of waiters.splice(0)) w.resolve();
    if (next.state === 'failed' || next.state === 'stopped') {
      const err = new Error(`storage ${next.state}${next.reason ? `: ${next.reason}` : ''}`);
      for (const w of waiters.splice(0)) w.reject(err);
    }
  };

  const giveUp = (reason: string) => {
    setState({ state: 'failed', pid: null, reason });
    logger?.fatal({ reason, restarts: health.restarts }, 'azurite cannot be kept running; the host stops');
    options.onGiveUp(reason);
  };

  const watch = (running: RunningAzurite) => {
    void running.exited.then(({ code, signal }) => {
      if (stopping || running !== current) return;
      const reason = `azurite (pid ${running.pid}) exited unexpectedly (${signal ? `signal ${signal}` : `code ${code}`})`;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && now - (crashes[0] ?? now) > windowMs) crashes.shift();
      logger?.error({ pid: running.pid, code, signal, crashesInWindow: crashes.length }, 'azurite exited unexpectedly; storage is down');
      if (crashes.length > maxRestarts) {
        giveUp(`${reason}; ${crashes.length} exits within ${Math.round(windowMs / 1000)} s`);
        return;
      }
      setState({ state: 'restarting', pid: null, reason });
      restarting = restart(reason).finally(() => {
        restarting = undefined;
      });
    });
  };

  const restart = async (reason: string): Promise<void> => {
    for (let attempt = 1; attempt <= maxRestarts; attempt += 1) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay(attempt));
        wakeSleeper = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeSleeper = undefined;
      if (stopping) return;
      try {
        // Same folder, same ports: what was saved is served again, at the addresses every client already has.
        const next = await start(options);
        if (stopping) {
          await next.stop();
          return;
        }
        try {
          if (options.afterRestart) await options.afterRestart();
        } catch (err) {
          await next.stop();
          throw err;
        }
        current = next;
        watch(next);
        health = { ...health, restarts: health.restarts + 1 };
        setState({ state: 'up', pid: next.pid });
        logger?.warn({ pid: next.pid, attempt, restarts: health.restarts, after: reason }, 'azurite restarted on the same data folder');
        return;
      } catch (err) {
        logger?.error({ attempt, err: errorMessage(err) }, 'azurite restart failed');
        reason = `restart attempt ${attempt} failed: ${errorMessage(err)}`;
        setState({ state: 'restarting', pid: null, reason });
      }
    }
    giveUp(`${reason} (gave up after ${maxRestarts} attempts)`);
  };

  watch(current);

  return {
    health: () => ({ ...health }),
    pid: () => health.pid,
    whenUp: () => {
      if (health.state === 'up') return Promise.resolve();
      if (health.state === 'failed' || health.state === 'stopped') return Promise.reject(new Error(`storage ${health.state}`));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      wakeSleeper?.();
      await restarting;
      await current.stop();
      setState({ state: 'stopped', pid: null });
      waiters = [];
    },
  };
}
