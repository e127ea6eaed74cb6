import { createHash } from 'node:crypto';
import type { IndexStore, Limits, SegmentManifestEntry, UploadRecord } from '@exhibit/core';
import { segmentError } from './ewf-image.container.js';

/**
 * Whether the first segment of a split image declared with a manifest
 * (docs/disk-images.md, "Split images") may be read now. Its unpack waits
 * until every declared segment has been received: not hashed, since a later
 * segment still unhashed is hashed, and checked against its declared hashes,
 * in this unpack's own read of it (docs/disk-images.md, "Split sets"; the hash
 * stage leaves it to this unpack). It is re-checked every
 * `segmentSetRecheckMs`; and once no declared segment has arrived, nor been
 * registered for upload (a segment being sent), for `segmentSetWaitMs` with
 * some still missing, the image fails with
 * `segment-missing` naming them, in order (the same names on every run, as
 * long as nothing arrives).
 */
export type SegmentSetState =
  /** No manifest names this blob as a first segment: the names and blob metadata decide, as before manifests. */
  | { kind: 'undeclared' }
  | { kind: 'waiting'; missing: string[]; recheckInMs: number }
  /** Every declared segment is here: the image is read over exactly these, in order. */
  | { kind: 'ready'; manifest: SegmentManifestEntry[] }
  /** The image is not read: the error says why (segment-missing after the wait, segment-size-mismatch). */
  | { kind: 'failed'; error: Error };

export async function segmentSetState(
  index: Pick<IndexStore, 'getSegmentManifest' | 'getUpload' | 'latestSegmentRegistration'>,
  firstBlobName: string,
  limits: Pick<Limits, 'segmentSetWaitMs' | 'segmentSetRecheckMs'>,
  now = Date.now(),
): Promise<SegmentSetState> {
  const manifest = await index.getSegmentManifest(firstBlobName);
  if (manifest.length === 0) return { kind: 'undeclared' };
  const uploads = new Map<string, UploadRecord>();
  for (const entry of manifest) {
    const upload = await index.getUpload(entry.blobName);
    if (upload) uploads.set(entry.blobName, upload);
  }
  // Received is enough: every segment still unhashed is hashed in this unpack's read (the first one since the single read,
  // a later one since "Split sets"), and its hash stage waits for this unpack (hash.stage.ts firstSegmentUnpackToCome), so
  // waiting here for hashes would wait for ourselves until segment-missing. A failed hash is the upload's own failure,
  // shown with it; the reader refuses a changed segment by its ETag.
  const missing = manifest.filter((e) => !uploads.has(e.blobName));
  if (missing.length > 0) {
    // A slow segment registered after the last receipt is still on its way: the wait counts from its registration too.
    const registered = await index.latestSegmentRegistration(firstBlobName);
    const latest = Math.max(...[...uploads.values()].map((u) => Date.parse(u.receivedAt)), registered === null ? -Infinity : Date.parse(registered));
    const waited = now - latest;
    const names = missing.map((e) => e.fileName);
    if (waited < limits.segmentSetWaitMs) {
      return { kind: 'waiting', missing: names, recheckInMs: Math.max(1, Math.min(limits.segmentSetRecheckMs, limits.segmentSetWaitMs - waited)) };
    }
    const wait = limits.segmentSetWaitMs < 60_000 ? `${Math.round(limits.segmentSetWaitMs / 1000)} s` : `${Math.round(limits.segmentSetWaitMs / 60_000)} min`;
    return {
      kind: 'failed',
      error: segmentError(
        'segment-missing',
        `${missing.length} of the ${manifest.length} segments declared for ${manifest[0]!.fileName} did not arrive within ${wait} of the last one received or registered: ${names.join(', ')}`,
      ),
    };
  }
  for (const e of manifest) {
    const size = uploads.get(e.blobName)!.size;
    if (size !== e.size) {
      return { kind: 'failed', error: segmentError('segment-size-mismatch', `segment ${e.position} of ${manifest[0]!.fileName} (${e.fileName}) holds ${size} bytes; its manifest declared ${e.size}`) };
    }
  }
  return { kind: 'ready', manifest };
}

/** The message key prefix of a waiting first segment's re-check (`segment-wait:<chain>:<step>`). */
const SEGMENT_WAIT_KEY = 'segment-wait';
const SEGMENT_WAIT_STEP = new RegExp(`:${SEGMENT_WAIT_KEY}:([0-9a-f]{12}):(\\d{1,9})$`);

/**
 * The key of the re-check a waiting first segment's unpack sends, derived from
 * the id of the message that runs and nothing else, so the re-checks are one
 * chain: a redelivery of a message (a crash after the send, a lost lock) sends
 * the same key again, which duplicate detection drops, rather than starting a
 * chain of its own (regression segment-wait-redelivered-chains-multiply: keyed
 * on the millisecond it was due, every delivery began another). The next key
 * is always a step past the running one, never the running key itself nor an
 * earlier step (either would be dropped as a repeat within the one-hour
 * window, and the wait would stop re-checking). A message that is no re-check
 * starts the chain named after its own id. A watchdog re-drive has an id of
 * its own (`unpack:<file id>:redrive-<n>-<moved ms>`), so it starts a chain of
 * its own beside the first message's, if that one is still alive: harmless,
 * since each re-check only looks at the set and then runs the unpack as any
 * redelivery would (at most one more chain per re-drive; docs/disk-images.md, "What the
 * pipeline does with a manifest").
 */
export function segmentWaitKey(messageId: string): string {
  const step = SEGMENT_WAIT_STEP.exec(messageId);
  if (step) return `${SEGMENT_WAIT_KEY}:${step[1]}:${Number(step[2]) + 1}`;
  const chain = createHash('sha256').update(messageId).digest('hex').slice(0, 12);
  return `${SEGMENT_WAIT_KEY}:${chain}:1`;
}
