import type {
  BlobStore,
  ContentRecord,
  CustodyRecorder,
  FileIdentifier,
  FileMessage,
  FileRecord,
  IndexStore,
  Limits,
  MemberBytesCache,
  Logger,
  MetadataExtractor,
  StageName,
  StageOutcome,
  Thumbnailer,
} from '@exhibit/core';
import type { RouteFacts } from './stage-graph.js';

/**
 * Everything a stage may touch: ports only, built by the composition root.
 * No bus: stages report what they did and the stage runner sends the next work.
 */
export interface StageDeps {
  blobs: BlobStore;
  index: IndexStore;
  custody: CustodyRecorder;
  identifier: FileIdentifier;
  metadata: MetadataExtractor;
  thumbnailer: Thumbnailer;
  containers: { evidence: string; derived: string };
  limits: Limits;
  /** Version of this pipeline, recorded with every derived item. */
  pipelineVersion: string;
  /**
   * Members' bytes just read by unpack, for analyse in the same process
   * (issue 12); absent, analyse reads every member from storage.
   */
  memberBytes?: MemberBytesCache;
}

/** Per invocation: who is running, and how to stop. */
export interface StageContext {
  logger: Logger;
  messageId: string;
  /**
   * This delivery's number: 1 for the message's first. A held copy's counts
   * every delivery of the message and its copies except those that deferred
   * to another's lease, which ran nothing (stage-runner.ts).
   */
  deliveryCount: number;
  abortSignal?: AbortSignal;
  /**
   * When the runner's deadline (LIMITS.stageDeadlineMs) aborts this
   * invocation, epoch ms; absent when the caller sets none. Unpack stops short
   * of it and continues in a new message (StageResult.again).
   */
  deadlineAt?: number;
  /**
   * Hands files that are ready for their next step to the runner while the
   * stage still runs (an archive's members, as they are recorded), so they
   * are analysed before the archive is finished. The runner routes them by
   * the stage graph; a throw is a retryable fault of the stage.
   */
  handOff?(files: HandOffFile[], options?: { abortSignal?: AbortSignal }): Promise<void>;
  /**
   * The files of a batch message as the runner read them in one statement
   * before running the stage on each: loadFile takes the file from here
   * instead of reading it again. A file absent from the map was not found.
   */
  preloaded?: ReadonlyMap<string, { file: FileRecord; content: ContentRecord | null }>;
}

/** A file handed off, with its size when known: the runner bounds a batch message's bytes by it (LIMITS.batchMaxBytes). */
export type HandOffFile = FileMessage & { bytes?: number | null };

/** What a stage did: its outcome, and what the runner needs to route and complete. */
export interface StageResult {
  outcome: StageOutcome;
  /** Per step, when one message runs several (analyse): failures are recorded per step. */
  steps?: Partial<Record<StageName, StageOutcome>>;
  /**
   * The file whose chain goes on, with what the graph routes on. Also reported
   * when the work was found already done, so a redelivery after a crash
   * between the write and the send sends again. Absent when nothing follows.
   */
  forward?: {
    file: FileMessage;
    facts: RouteFacts;
    /** Sends under another message id than the file's usual one for that queue: a second message for the same work, on purpose. */
    messageKey?: string;
  };
  /**
   * Run this same message again after `afterMs`: the work waits for something
   * to arrive (a split image's first segment, its declared set). Sent under
   * `messageKey`, so it is not dropped as a repeat of the message that ran.
   */
  again?: { afterMs: number; messageKey: string };
  /** The stage's write may have left the evidence item without work (index); `noOpenWork` when the write said so. */
  settles?: { noOpenWork: boolean };
}

export type Stage<M> = (deps: StageDeps, message: M, ctx: StageContext) => Promise<StageResult>;

/** A result with nothing to route. */
export const only = (outcome: StageOutcome): StageResult => ({ outcome });

/**
 * The message key of a watchdog re-drive (`redrive-<n>-<moved ms>`): the
 * number this re-drive is since the file last moved, and when it last moved.
 * A new re-drive gets a new key, so Service Bus duplicate detection
 * (SB_DUPLICATE_DETECTION_WINDOW, 1 hour, longer than the watchdog's stall
 * time) never drops it as a repeat of the first message or of the last
 * re-drive; a repeat of the same re-drive (a watchdog pass cut short before it
 * counted its re-drives, or whose count failed) gets the same key and is
 * dropped, so a repeated pass does not send every stalled file's work again.
 */
export const redriveKey = (redrive: { count: number; movedAtMs: number }): string =>
  `redrive-${Math.max(0, Math.floor(redrive.count))}-${Math.max(0, Math.floor(redrive.movedAtMs))}`;

/**
 * The re-drive a message is (the key its id ends in), or null. A stage that
 * answers a re-drive of a continuation chain by sending the chain's latest
 * point again adds this to that key: the dead chain's own message under the
 * plain key may have been sent within the duplicate-detection window, and a
 * repeat of it would be dropped, leaving the chain dead (docs/architecture.md,
 * "Planned continuation").
 */
export function redriveOf(messageId: string): string | null {
  return /:(redrive-\d{1,6}-\d{1,15})$/.exec(messageId)?.[1] ?? null;
}
