/**
 * The processing lifecycle of one evidence item, defined once: the steps in
 * order, the state a file reaches after each, the queue that carries each
 * step, and the custody actions the pipeline writes. The index (status
 * counts), the API and CLI (stage names they show and accept), custody and
 * the pipeline's stage graph (packages/pipeline/src/stage-graph.ts) read it
 * from here instead of keeping their own copies.
 */

/**
 * The steps of the pipeline in order. A file's failure names the step it
 * failed in (status, API and CLI show it), so these names are the vocabulary
 * of failures; several steps can share one queue (`analyse` runs identify,
 * metadata and thumbnail on one read of the file's bytes).
 */
export const STAGE_NAMES = ['ingest', 'hash', 'identify', 'unpack', 'metadata', 'thumbnail', 'index'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** The steps whose results are counted per file in an evidence item's status, in order. */
export const STATUS_STAGES = ['hash', 'identify', 'unpack', 'metadata', 'thumbnail', 'index'] as const;
export type StatusStage = (typeof STATUS_STAGES)[number];

/**
 * Where a file is in its own chain, in order. A file moves forward only;
 * 'failed' (outside the order) is terminal and carries a reason.
 */
export const FILE_STATES = ['pending', 'identified', 'described', 'thumbnailed', 'indexed'] as const;
export type FileStage = (typeof FILE_STATES)[number] | 'failed';
/** Every value of a file's state, the terminal 'failed' last (API schemas, CLI choices). */
export const FILE_STAGES = [...FILE_STATES, 'failed'] as const satisfies readonly FileStage[];

/** The file steps and the state a file has once it has passed each. */
export const STATE_AFTER = {
  identify: 'identified',
  metadata: 'described',
  thumbnail: 'thumbnailed',
  index: 'indexed',
} as const satisfies Record<string, FileStage>;
export type FileStep = keyof typeof STATE_AFTER;

/** The file step a file in `state` waits on; null for the end states. */
export function stepAwaited(state: FileStage): FileStep | null {
  switch (state) {
    case 'pending':
      return 'identify';
    case 'identified':
      return 'metadata';
    case 'described':
      return 'thumbnail';
    case 'thumbnailed':
      return 'index';
    default:
      return null;
  }
}

/** True when a file in `state` has reached (or passed) `target`; a failed file has reached nothing. */
export function hasReached(state: FileStage, target: FileStage): boolean {
  if (state === 'failed' || target === 'failed') return false;
  return FILE_STATES.indexOf(state) >= FILE_STATES.indexOf(target);
}

/**
 * The queues, one per unit of work that travels as a message. Storage Queues
 * locally, Service Bus in Azure; same names. infra/modules/service-bus.bicep
 * declares the same list (test/consistency checks it).
 */
export const QUEUES = ['hash', 'unpack', 'analyse', 'index'] as const;
export type QueueName = (typeof QUEUES)[number];

/** The steps each queue's message runs, in order. */
export const QUEUE_STEPS = {
  hash: ['hash'],
  unpack: ['unpack'],
  analyse: ['identify', 'metadata', 'thumbnail'],
  index: ['index'],
} as const satisfies Record<QueueName, readonly StageName[]>;

/** The queue that carries a step (ingest is a blob event, not a queue). */
export function queueOfStep(step: Exclude<StageName, 'ingest'>): QueueName {
  for (const queue of QUEUES) if ((QUEUE_STEPS[queue] as readonly StageName[]).includes(step)) return queue;
  throw new Error(`no queue runs step ${step}`);
}

/** Custody actions the pipeline writes (the API writes the others). */
export const PIPELINE_CUSTODY_ACTIONS = [
  'received',
  'acquisition-hashes',
  'integrity-verified',
  'integrity-mismatch',
  'evidence-changed',
  'unpacked',
  /** A disk image's stored acquisition hashes (EWF) checked against the media data read: agree, or not. */
  'image-hash-verified',
  'image-hash-mismatch',
  /** The check could not hash the media whole: a chunk fails the checksum the acquisition wrote (or does not inflate). */
  'image-media-damaged',
  'stage-failed',
  'processing-complete',
] as const;

/**
 * When an evidence item is complete, decided here for the index's status and
 * list and for the pipeline's completion record: every upload hashed (or given
 * up on), every upload's root file recorded, and no file or unpack left open.
 */
export function isEvidenceComplete(state: { hashed: unknown; rootsRecorded: unknown; settled: unknown }): boolean {
  return state.hashed === true && state.rootsRecorded === true && state.settled === true;
}
