import {
  hasReached,
  queueOfStep,
  stepAwaited,
  type FileKind,
  type FileStage,
  type Limits,
  type QueueName,
  type UnpackState,
} from '@exhibit/core';

/**
 * The flow of the pipeline, in one place: which queue's work follows which,
 * by kind of file and depth. The stage runner (stage-runner.ts) is the only
 * reader that sends; stages report what they did and never name a queue.
 *
 *   blob-created ──ingest──▶ hash ──▶ analyse ─┬─▶ index            (every file)
 *                                      ▲       └─▶ unpack (archives above the depth limit)
 *                                      └───────────── members ◀─┘
 *
 * An uploaded ZIP/TAR (and a raw or VHD disk image, an E01's segment 1) is hashed in its unpack's single read: hash ──▶ unpack
 * (members to analyse as above) ──▶ analyse for the archive itself, or back to
 * hash when that read ended without the hash (deadline, dead letter).
 *
 * `analyse` runs identify, metadata and thumbnail on one read of the file's
 * bytes (core's QUEUE_STEPS); `index` is the end of a file's chain and may
 * complete its evidence item, as may an unpack finishing or any failure.
 */

/** What the graph routes on, as a stage reports it about the file it worked on. */
export interface RouteFacts {
  kind: FileKind | null;
  /** The file's unpack state after the stage (analyse marks archives 'pending'; hash, an uploaded archive it leaves to unpack). */
  unpack: UnpackState;
  /**
   * Set by unpack for an uploaded archive it was to hash in the same read:
   * true when the read ended without the hash (the upload goes back to hash),
   * false when it is recorded (the archive goes on to be analysed).
   */
  hashPending?: boolean;
}

export interface StageNode {
  /**
   * The message body the queue carries: an upload (hash), one file (unpack:
   * an archive's unpack is long work of its own), or files: one, or a batch of
   * up to LIMITS.batchMaxFiles of one evidence item (core's fileWorkMessage).
   */
  body: 'upload' | 'file' | 'files';
  /** For 'files': whether a batch is also bounded by the bytes of its files (LIMITS.batchMaxBytes), because the stage reads them. */
  batchBytes?: boolean;
  /**
   * For 'files': whether the file's work on this queue is over, from its
   * record alone (no bytes read). A batch redelivered after a crash runs only
   * these itself (cheap: they skip and are routed again) and splits the rest
   * off, each file into its own message.
   */
  done?(file: { stage: FileStage }, content: { kind: FileKind | null } | null): boolean;
  /** The queues the reported file goes to next; empty at the end of its chain. */
  next(facts: RouteFacts): QueueName[];
  /** Where the files a stage hands off while it runs go (an archive's members). */
  members?: QueueName;
  /**
   * For 'upload' and 'file': the work on one item is long (an archive's unpack, a large upload's hash), so the runner
   * runs it under the item's stage lease (stage-lease.ts): a second delivery of it while the first still runs (a lost
   * lock) does no work, and sends itself again for when the lease expires.
   */
  leased?: boolean;
  /**
   * After which outcomes the runner checks whether the evidence item has work
   * left and records its completion: 'always' (an unpack finishing, in any
   * way), or 'reported' (only when the stage says its write may have been the
   * last). A failed outcome is always checked.
   */
  completes: 'always' | 'reported' | 'never';
}

export const STAGE_GRAPH: { readonly [Q in QueueName]: StageNode } = {
  // An uploaded archive is hashed in its unpack's read (unpack.stage.ts): hash marks it and sends it there first.
  hash: { body: 'upload', leased: true, next: (facts) => (facts.unpack === 'pending' ? ['unpack'] : ['analyse']), completes: 'never' },
  analyse: {
    body: 'files',
    batchBytes: true,
    // Identify, then the kind's own analyse steps (ANALYSE_STEPS): over once the last of them has run.
    done: (file, content) => file.stage === 'failed' || hasReached(file.stage, analysedAt(content?.kind ?? null)),
    // An archive marked for unpacking is unpacked and indexed side by side: its members do not wait for it.
    next: (facts) => (facts.unpack === 'pending' ? ['unpack', 'index'] : ['index']),
    completes: 'never',
  },
  // Only an uploaded archive hashed in the unpack's read goes on from here (to analyse, or back to hash without its hash).
  unpack: {
    body: 'file',
    leased: true,
    next: (facts) => (facts.hashPending === undefined ? [] : facts.hashPending ? ['hash'] : ['analyse']),
    members: 'analyse',
    completes: 'always',
  },
  index: { body: 'files', done: (file) => file.stage === 'failed' || file.stage === 'indexed', next: () => [], completes: 'reported' },
};

/** The queue a new upload's work starts on. */
export const FIRST_QUEUE: QueueName = 'hash';

/**
 * Whether an archive at `depth` is unpacked: its members would sit one level
 * deeper, and nothing deeper than maxNestingDepth is opened (it is flagged
 * 'not-unpacked-depth' instead).
 */
export function unpacks(kind: FileKind | null, depth: number, limits: Pick<Limits, 'maxNestingDepth'>): boolean {
  return kind === 'archive' && depth < limits.maxNestingDepth;
}

/**
 * The analyse steps after identify, by kind: images and videos get metadata
 * and a thumbnail (a contact sheet, with PDQ hashes); audio gets its metadata
 * (ffprobe: duration, codecs, sample rate, channels) and no picture, as there
 * is none to make; anything else is identified only.
 */
export const ANALYSE_STEPS: { readonly [K in FileKind]: readonly ('metadata' | 'thumbnail')[] } = {
  image: ['metadata', 'thumbnail'],
  video: ['metadata', 'thumbnail'],
  audio: ['metadata'],
  archive: [],
  document: [],
  other: [],
};

/** Whether the analyse queue reads metadata for this kind. */
export function describes(kind: FileKind | null): kind is 'image' | 'video' | 'audio' {
  return kind !== null && ANALYSE_STEPS[kind].includes('metadata');
}

/** Whether the analyse queue makes a thumbnail for this kind (images and videos only). */
export function isMedia(kind: FileKind | null): kind is 'image' | 'video' {
  return kind !== null && ANALYSE_STEPS[kind].includes('thumbnail');
}

/** The state a file of this kind has once its analyse steps are over (unknown kind: not identified yet). */
export function analysedAt(kind: FileKind | null): FileStage {
  if (kind === null) return 'identified';
  return isMedia(kind) ? 'thumbnailed' : describes(kind) ? 'described' : 'identified';
}

/**
 * The queues a file that stopped moving waits on, from its state: what the
 * watchdog re-sends. Every stage is idempotent, so re-sending the queue of
 * the step it waits on continues it from where the index says it is.
 */
export function queuesAwaited(file: { stage: FileStage; unpack: UnpackState; hashPending: boolean; hashMoving?: boolean }): QueueName[] {
  const queues: QueueName[] = [];
  const step = stepAwaited(file.stage);
  // A resumable hash whose checkpoint moved lately is progressing (its own chain goes on): never re-sent, nor failed as stuck.
  if (file.stage === 'pending' && file.hashPending) {
    if (!file.hashMoving) queues.push('hash');
  } else if (step) queues.push(queueOfStep(step));
  // An archive identified as one whose unpack has not run: analyse, found done, routes it to unpack again.
  if (file.unpack === 'pending' && !queues.includes('analyse')) queues.push('unpack');
  return queues;
}
