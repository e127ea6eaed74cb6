import { errorMessage } from '@exhibit/core';
import { newInvocation, type LocalDef, type LocalServing } from './local-trigger.js';

/** A timer: every localIntervalMs; one run at a time, so a pass slower than its interval is not stacked up. */
export function serveTimer(fn: LocalDef<'timer'>, s: LocalServing): void {
  const everyMs = typeof fn.trigger.localIntervalMs === 'function' ? fn.trigger.localIntervalMs(s.config) : fn.trigger.localIntervalMs;
  let running = false;
  s.timers.push(
    setInterval(() => {
      if (running) return;
      running = true;
      fn.handler(s.app, undefined, newInvocation(s.logger))
        .catch((err: unknown) => s.logger.warn({ fn: fn.name, err: errorMessage(err) }, 'timer function failed'))
        .finally(() => {
          running = false;
        });
    }, everyMs),
  );
}
