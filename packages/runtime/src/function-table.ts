import { QUEUES, type ExhibitConfig, type QueueName, type StageOutcome } from '@exhibit/core';
import type { ApiRequest, ApiResponse, SiteRequest } from '@exhibit/api';
import type { App } from './app.js';
import type {
  BlobCreatedInput,
  DeadLetterInput,
  IngestOutcome,
  Invocation,
  QueueInput,
  TriggerSpec,
} from './function-table.types.js';
import { handleBlobCreated, handleDeadLetter, handleHttp, handleQueueMessage, reconcile } from './handlers.js';
import { handleSite } from './review-app.site.js';
import { watchdog } from './watchdog.js';

export type FunctionDef =
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'blob-created' }>; handler: (app: App, input: BlobCreatedInput, inv: Invocation) => Promise<IngestOutcome> }
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'queue' }>; handler: (app: App, input: QueueInput, inv: Invocation) => Promise<StageOutcome> }
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'dead-letter' }>; handler: (app: App, input: DeadLetterInput, inv: Invocation) => Promise<void> }
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'http' }>; handler: (app: App, input: ApiRequest, inv: Invocation) => Promise<ApiResponse> }
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'site' }>; handler: (config: ExhibitConfig, input: SiteRequest, inv: Invocation) => Promise<ApiResponse> }
  | { name: string; trigger: Extract<TriggerSpec, { kind: 'timer' }>; handler: (app: App, input: undefined, inv: Invocation) => Promise<unknown> };

/** Reconciliation re-queues hashes that have waited this long (a lost message, not a busy queue). */
const RESEND_PENDING_AFTER_MS = 30 * 60 * 1000;

/** A stage queue's function; on the queues that carry files (analyse, index) each invocation is a batch of them (stage-runner.ts). */
const stageFunction = (queue: QueueName): FunctionDef => ({
  name: `stage-${queue}`,
  trigger: { kind: 'queue', queue },
  handler: (app: App, input: QueueInput, inv: Invocation) => handleQueueMessage(app, queue, input, inv),
});

const deadLetterFunction = (queue: QueueName): FunctionDef => ({
  name: `deadletter-${queue}`,
  trigger: { kind: 'dead-letter', queue },
  handler: (app: App, input: DeadLetterInput, inv: Invocation) => handleDeadLetter(app, queue, input, inv),
});

/**
 * The app's functions: name, trigger, handler. functions/ registers each with
 * Azure; the local host serves each with its local equivalent.
 */
export const FUNCTIONS: readonly FunctionDef[] = [
  { name: 'ingest', trigger: { kind: 'blob-created', container: 'evidence' }, handler: handleBlobCreated },
  ...QUEUES.map(stageFunction),
  ...QUEUES.map(deadLetterFunction),
  {
    name: 'api',
    trigger: { kind: 'http', route: 'api/{*path}', methods: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] },
    handler: handleHttp,
  },
  {
    // The review app (packages/web): POST only for the local stack's sign-in, absent with Entra ID.
    name: 'site',
    trigger: { kind: 'site', route: '{*path}', methods: ['GET', 'HEAD', 'POST'] },
    handler: handleSite,
  },
  {
    name: 'reconcile',
    trigger: { kind: 'timer', schedule: '0 */5 * * * *', localIntervalMs: 5 * 60 * 1000 },
    handler: (app: App, _input: undefined, inv: Invocation) => reconcile(app, inv, { resendPendingAfterMs: RESEND_PENDING_AFTER_MS }),
  },
  {
    // Signed checkpoints of every custody log whose head moved, appended where the pipeline cannot rewrite them.
    name: 'custody-checkpoint',
    trigger: { kind: 'timer', schedule: '30 */5 * * * *', localIntervalMs: 5 * 60 * 1000 },
    handler: async (app: App, _input: undefined, inv: Invocation) => {
      const run = await app.custody.checkpoint(inv.abortSignal ? { abortSignal: inv.abortSignal } : {});
      return { checkpoints: run.checkpoints, cases: run.written.length };
    },
  },
  {
    // No work waits for good: re-drives what stopped moving, fails it as `stuck` in the end,
    // and makes again the thumbnails storage lost (docs/operations.md, "Watchdog").
    name: 'watchdog',
    trigger: { kind: 'timer', schedule: '30 */5 * * * *', localIntervalMs: (config) => config.watchdog.intervalMs },
    handler: (app: App, _input: undefined, inv: Invocation) =>
      watchdog(app, inv, { stallMs: app.config.watchdog.stallMs, maxRedrives: app.config.watchdog.maxRedrives }),
  },
];
