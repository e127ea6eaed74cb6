import { errorMessage, type BlobProperties } from '@exhibit/core';
import { reconcile, type Invocation } from '@exhibit/runtime';
import { newInvocation, type LocalDef, type LocalServing } from './local-trigger.js';

/**
 * Blob-created: locally there is no Event Grid, so the evidence container is
 * watched. On start, uploads received but never hashed (a crash in between)
 * are re-queued once. Returns the watcher's pass, for tests and for storage
 * coming back after a restart.
 */
export async function serveBlobCreated(fn: LocalDef<'blob-created'>, s: LocalServing): Promise<() => Promise<void>> {
  const { app, logger } = s;
  const known = await app.index.listUploadEtags();
  const ingestWithTableFunction = (blob: BlobProperties, inv: Invocation) =>
    fn.handler(app, { container: blob.container, blobName: blob.name, eventId: `watch:${blob.etag}` }, inv);
  await reconcile(app, newInvocation(logger), { resendPendingAfterMs: 0, known, ingest: ingestWithTableFunction });
  let scanning: Promise<void> | undefined;
  const scan = async (): Promise<void> => {
    scanning ??= reconcile(app, newInvocation(logger), { known, ingest: ingestWithTableFunction })
      .then(() => undefined)
      .catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'blob watch pass failed; will retry'))
      .finally(() => {
        scanning = undefined;
      });
    return scanning;
  };
  s.timers.push(setInterval(() => void scan(), s.config.worker.pollIntervalMs));
  s.stoppers.push(async () => {
    await scanning;
  });
  return scan;
}
