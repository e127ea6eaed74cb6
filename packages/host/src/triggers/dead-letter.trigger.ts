import { errorMessage } from '@exhibit/core';
import { newInvocation, type LocalDef, type LocalServing } from './local-trigger.js';

/** A stage queue's dead letters (locally its `-poison` queue): record the failure, then remove the message. */
export function serveDeadLetters(fn: LocalDef<'dead-letter'>, s: LocalServing): void {
  let busy = false;
  const drain = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const dl of await s.app.bus.receiveDeadLettered(fn.trigger.queue, { maxMessages: 32 })) {
        await fn.handler(s.app, { body: dl.body, messageId: dl.messageId, reason: dl.reason, description: dl.description }, newInvocation(s.logger));
        await dl.complete();
      }
    } catch (err) {
      s.logger.warn({ fn: fn.name, err: errorMessage(err) }, 'dead-letter pass failed; will retry');
    } finally {
      busy = false;
    }
  };
  s.timers.push(setInterval(() => void drain(), Math.max(1000, s.config.worker.pollIntervalMs * 2)));
}
