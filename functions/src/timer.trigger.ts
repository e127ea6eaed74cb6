import type { InvocationContext, Timer, TimerFunctionOptions } from '@azure/functions';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { runInvocation } from './invocation-log.js';

type TimerDef = Extract<FunctionDef, { trigger: { kind: 'timer' } }>;

/** Reconciliation: the safety net for lost events. A throw is logged by the host; the next tick runs again. */
export function timerTrigger(def: TimerDef, host: FunctionsHost): TimerFunctionOptions {
  return {
    schedule: def.trigger.schedule,
    runOnStartup: false,
    // The schedule monitor keeps one run per tick across scaled-out instances.
    useMonitor: true,
    handler: (timer: Timer, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const app = await host.getApp();
        const result = await def.handler(app, undefined, inv);
        inv.logger.info({ pastDue: timer.isPastDue, result }, 'timer run finished');
      }),
  };
}
