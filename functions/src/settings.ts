/**
 * Names the Functions host resolves itself (trigger connections, queues fed by
 * Event Grid). They are not ExhibitConfig settings: the host reads them, not
 * our code, so they live here and in infra/ (the consistency tests compare).
 */

/** Trigger connection prefix: `ServiceBusConnection__fullyQualifiedNamespace` in Azure (managed identity), a connection string locally. */
export const SERVICE_BUS_CONNECTION = 'ServiceBusConnection';

/** Event Grid delivers the evidence container's BlobCreated events into this Service Bus queue. */
export const BLOB_EVENTS_QUEUE = 'evidence-events';

/** Event Grid's event type for a new or overwritten blob. */
export const BLOB_CREATED_EVENT = 'Microsoft.Storage.BlobCreated';
