import type {
  AnalysisWrite,
  FileFailure,
  FileFlag,
  FileMove,
  FileStage,
  IdentificationWrite,
  IndexStore,
  MetadataWrite,
  ThumbnailWrite,
} from '@exhibit/core';

/**
 * What the analyse stage's steps found about one file, kept until the stage
 * ends and then written in one statement (IndexStore.setAnalysis): the
 * content's identification, metadata and thumbnail, each under its own
 * condition, and the occurrence's last move with every step's flags, or its
 * failure. Each step used to write its own (three statements for a photo,
 * most of the index's work per file); the row ends the same.
 *
 * A crash before the write loses the attempt's results, and the redelivery
 * starts again at identify (every part is written only while still open, so
 * an older attempt's parts stand). A retryable fault of a later step is no
 * crash: the stage writes what the steps before it found, then throws, so
 * the retry resumes after them, as when each step wrote. A message delivered
 * again flushes after each step (analyse.stage.ts), so a file that kills its
 * process in a later step is resumed, and dead-lettered, in that step.
 */
export class StepWrites {
  private results: AnalysisWrite = {};
  private to: Exclude<FileStage, 'failed' | 'indexed'> | null = null;
  private failure: FileFailure | null = null;
  private flags: FileFlag[] = [];
  private unpack: 'pending' | undefined;

  constructor(
    private readonly sha256: string,
    private readonly fileId: string,
  ) {}

  identification(id: IdentificationWrite): void {
    this.results.identification = id;
  }

  metadata(result: MetadataWrite): void {
    this.results.metadata = result;
  }

  thumbnail(result: ThumbnailWrite): void {
    this.results.thumbnail = result;
  }

  /** The occurrence moves to `to` (steps come in order: the last move is the furthest), with the step's findings. */
  move(to: Exclude<FileStage, 'failed' | 'indexed'>, patch: { flags?: readonly FileFlag[]; unpack?: 'pending' } = {}): void {
    this.to = to;
    for (const f of patch.flags ?? []) if (!this.flags.includes(f)) this.flags.push(f);
    if (patch.unpack) this.unpack = patch.unpack;
  }

  /** The occurrence fails (with the findings of the steps before, as their moves wrote them). */
  fail(failure: FileFailure): void {
    this.failure = failure;
  }

  /** Writes what is kept, in one statement; nothing when no step found anything (a redelivery of a finished file). */
  async flush(index: Pick<IndexStore, 'setAnalysis'>): Promise<void> {
    const file = this.fileMove();
    const results = this.results;
    if (!file && !results.identification && !results.metadata && !results.thumbnail) return;
    await index.setAnalysis(this.sha256, results, file);
    this.results = {};
    this.to = null;
    this.failure = null;
    this.flags = [];
    this.unpack = undefined;
  }

  private fileMove(): FileMove | undefined {
    const flags = this.flags.length > 0 ? { flags: [...this.flags] } : {};
    // A failure carries no unpack: a move's `unpack: 'pending'` before it is dropped with it (when each step wrote
    // its own, identify's write kept it). Unreachable today: only identify marks a file for unpacking, only an
    // archive, and an archive has no step after identify to fail in (ANALYSE_STEPS, stage-graph.ts).
    if (this.failure) return { fileId: this.fileId, failure: this.failure, ...flags };
    if (this.to) return { fileId: this.fileId, to: this.to, ...flags, ...(this.unpack ? { unpack: this.unpack } : {}) };
    return undefined;
  }
}
