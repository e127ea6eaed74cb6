import type { InvocationContext, ServiceBusQueueFunctionOptions } from '@azure/functions';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { runInvocation } from './invocation-log.js';
import { messageBody, serviceBusMessageInfo } from './service-bus-metadata.js';
import { SERVICE_BUS_CONNECTION } from './settings.js';

type QueueDef = Extract<FunctionDef, { trigger: { kind: 'queue' } }>;

/**
 * A stage queue; on analyse and index one message is a batch of files
 * (cardinality 'one': the batch is the unit, and the runner splits it when a
 * file throws). Returning completes the message: 'done', 'skipped' and
 * 'failed' outcomes alike, since a failure is a property of the evidence and
 * is already recorded in the index. Throwing (only retryable faults) abandons
 * it, so Service Bus redelivers and dead-letters after maxDeliveryCount.
 */
export function queueTrigger(def: QueueDef, host: FunctionsHost): ServiceBusQueueFunctionOptions {
  return {
    connection: SERVICE_BUS_CONNECTION,
    queueName: def.trigger.queue,
    cardinality: 'one',
    handler: (message: unknown, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const info = serviceBusMessageInfo(context.triggerMetadata, context.invocationId);
        const input = {
          body: messageBody(message),
          messageId: info.messageId,
          deliveryCount: info.deliveryCount,
          ...(info.correlationId ? { correlationId: info.correlationId } : {}),
        };
        const app = await host.getApp();
        const outcome = await def.handler(app, input, inv);
        inv.logger.info({ queue: def.trigger.queue, messageId: info.messageId, deliveryCount: info.deliveryCount, outcome }, 'stage message settled');
      }),
  };
}
