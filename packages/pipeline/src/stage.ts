import type {
  BlobStore,
  Bus,
  CustodyRecorder,
  FileIdentifier,
  IndexStore,
  Limits,
  Logger,
  MetadataExtractor,
  StageOutcome,
  Thumbnailer,
} from '@exhibit/core';

/** Everything a stage may touch: ports only, built by the composition root. */
export interface StageDeps {
  blobs: BlobStore;
  bus: Bus;
  index: IndexStore;
  custody: CustodyRecorder;
  identifier: FileIdentifier;
  metadata: MetadataExtractor;
  thumbnailer: Thumbnailer;
  containers: { evidence: string; derived: string };
  limits: Limits;
  /** Version of this pipeline, recorded with every derived item. */
  pipelineVersion: string;
}

/** Per invocation: who is running, and how to stop. */
export interface StageContext {
  logger: Logger;
  messageId: string;
  deliveryCount: number;
  abortSignal?: AbortSignal;
}

export type Stage<M> = (deps: StageDeps, message: M, ctx: StageContext) => Promise<StageOutcome>;
