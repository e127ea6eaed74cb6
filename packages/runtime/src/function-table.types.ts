import type { ExhibitConfig, QueueName } from '@exhibit/core';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
export type SiteMethod = 'GET' | 'HEAD' | 'POST';

/**
 * How a function is triggered. Azure registration (functions/) and the local
 * host both read the same table, so local runs exercise the same wiring.
 */
export type TriggerSpec =
  /** Azure: blob-created events (Event Grid source) on the container; local: the host's blob watcher. */
  | { kind: 'blob-created'; container: 'evidence' }
  /** Azure: Service Bus queue trigger; local: Storage Queue poller. */
  | { kind: 'queue'; queue: QueueName }
  /** Azure: the queue's dead-letter sub-queue; local: the `<queue>-poison` queue. */
  | { kind: 'dead-letter'; queue: QueueName }
  /** Azure: one HTTP trigger with route `api/{*path}`; local: node:http on config.api. */
  | { kind: 'http'; route: string; methods: HttpMethod[] }
  /**
   * The review app's files and /app-config.json, same origin as the API. Azure: an HTTP trigger on a
   * catch-all route, which the API's literal `api/` route outranks; local: mounted beside /api on the
   * API's node:http server. Needs only the configuration, never the app (no database for a page).
   */
  | { kind: 'site'; route: string; methods: SiteMethod[] }
  /** Azure: NCRONTAB timer; local: every localIntervalMs (a number, or read from the config). */
  | { kind: 'timer'; schedule: string; localIntervalMs: number | ((config: ExhibitConfig) => number) };

// What triggers hand over; the stage runner defines them, since it is what receives them.
export type { DeadLetterInput, IngestOutcome, Invocation, QueueInput } from '@exhibit/pipeline';

export interface BlobCreatedInput {
  container: string;
  blobName: string;
  /** Event Grid event id or local watcher id, for logs only. */
  eventId?: string;
}
