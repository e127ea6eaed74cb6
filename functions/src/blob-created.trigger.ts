import type { InvocationContext, ServiceBusQueueFunctionOptions } from '@azure/functions';
import type { FunctionDef } from '@exhibit/runtime';
import type { FunctionsHost } from './app-instance.js';
import { parseBlobCreatedEvent } from './blob-created.event.js';
import { runInvocation } from './invocation-log.js';
import { messageBody } from './service-bus-metadata.js';
import { BLOB_EVENTS_QUEUE, SERVICE_BUS_CONNECTION } from './settings.js';

type BlobCreatedDef = Extract<FunctionDef, { trigger: { kind: 'blob-created' } }>;

/**
 * Uploads: the evidence container's BlobCreated events reach a Service Bus
 * queue through an Event Grid subscription (infra/), and this trigger reads
 * them. Not the Node blob trigger, which hands the function the whole blob in
 * memory; not an Event Grid push trigger, whose subscription can only be
 * created after the code is deployed. See docs/deploy.md, "Upload trigger".
 * Events that are not for us are completed and logged; a throw retries.
 */
export function blobCreatedTrigger(def: BlobCreatedDef, host: FunctionsHost): ServiceBusQueueFunctionOptions {
  return {
    connection: SERVICE_BUS_CONNECTION,
    queueName: BLOB_EVENTS_QUEUE,
    cardinality: 'one',
    handler: (message: unknown, context: InvocationContext) =>
      runInvocation(context, host.logger, async (inv) => {
        const parsed = parseBlobCreatedEvent(messageBody(message), def.trigger.container);
        if (parsed.kind === 'ignored') {
          inv.logger.warn({ reason: parsed.reason, detail: parsed.detail }, 'blob event ignored');
          return;
        }
        const app = await host.getApp();
        const outcome = await def.handler(app, parsed.input, inv);
        inv.logger.info({ blobName: parsed.input.blobName, eventId: parsed.input.eventId, outcome }, 'blob event handled');
      }),
  };
}
