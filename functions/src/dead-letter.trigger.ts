import type { InvocationContext, ServiceBusQueueFunctionOptions } from '@azure/functions';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { runInvocation } from './invocation-log.js';
import { messageBody, serviceBusMessageInfo } from './service-bus-metadata.js';
import { SERVICE_BUS_CONNECTION } from './settings.js';

type DeadLetterDef = Extract<FunctionDef, { trigger: { kind: 'dead-letter' } }>;

/** Service Bus addresses a queue's dead-letter sub-queue by this path. */
export function deadLetterPath(queue: string): string {
  return `${queue}/$deadletterqueue`;
}

/**
 * A stage queue's dead letters: the handler records the file as failed with
 * the broker's reason, so no file stays "pending" forever. A throw leaves the
 * message in the dead-letter queue for the next attempt; nothing is lost.
 */
export function deadLetterTrigger(def: DeadLetterDef, host: FunctionsHost): ServiceBusQueueFunctionOptions {
  return {
    connection: SERVICE_BUS_CONNECTION,
    queueName: deadLetterPath(def.trigger.queue),
    cardinality: 'one',
    handler: (message: unknown, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const info = serviceBusMessageInfo(context.triggerMetadata, context.invocationId);
        const input = {
          body: messageBody(message),
          messageId: info.messageId,
          reason: info.deadLetterReason ?? 'unknown',
          description: info.deadLetterDescription ?? '',
        };
        const app = await host.getApp();
        await def.handler(app, input, inv);
        inv.logger.warn({ queue: def.trigger.queue, messageId: info.messageId, reason: input.reason }, 'dead-lettered message recorded');
      }),
  };
}
