import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import type { EvidenceStatusBody } from '../api/api-types.js';
import { aggregateStages, renderProgressLine, STATUS_STAGES, type StatusStage } from './status.render.js';

export interface StatusProgressView {
  update(statuses: readonly EvidenceStatusBody[]): void;
  finish(): void;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** One bar per stage on a terminal; elsewhere a line whenever the counts change. */
export function createStatusProgressView(stream: ProgressStream): StatusProgressView {
  return stream.isTTY ? new StageBars(stream as NodeJS.WritableStream) : new ChangeLines(stream);
}

class StageBars implements StatusProgressView {
  private multi: MultiBar | undefined;
  private readonly bars = new Map<StatusStage, SingleBar>();

  constructor(private readonly stream: NodeJS.WritableStream) {}

  update(statuses: readonly EvidenceStatusBody[]): void {
    this.multi ??= new MultiBar(
      { stream: this.stream, format: '{stage} |{bar}| {value}/{total} {failedText}', hideCursor: true, clearOnComplete: false, emptyOnZero: true },
      Presets.shades_classic,
    );
    const stages = aggregateStages(statuses);
    for (const stage of STATUS_STAGES) {
      const c = stages[stage];
      const total = c.done + c.failed + c.pending;
      const payload = { stage: stage.padEnd(9), failedText: c.failed > 0 ? `(${c.failed} failed)` : '' };
      let bar = this.bars.get(stage);
      if (!bar) {
        bar = this.multi.create(total, c.done + c.failed, payload);
        this.bars.set(stage, bar);
      } else {
        // Archives reveal more files as they are unpacked, so totals grow.
        bar.setTotal(total);
        bar.update(c.done + c.failed, payload);
      }
    }
  }

  finish(): void {
    this.multi?.stop();
    this.multi = undefined;
    this.bars.clear();
  }
}

class ChangeLines implements StatusProgressView {
  private last = '';
  constructor(private readonly stream: ProgressStream) {}

  update(statuses: readonly EvidenceStatusBody[]): void {
    const line = renderProgressLine(statuses);
    if (line !== this.last) this.stream.write(line);
    this.last = line;
  }

  finish(): void {
    this.last = '';
  }
}
