import { Presets, SingleBar } from 'cli-progress';
import type { UploadProgress } from '../upload/upload.service.js';
import { formatBytes, formatDuration, formatRate, printable } from './format.js';

export interface UploadProgressView {
  update(progress: UploadProgress): void;
  /** Removes the bar (TTY) so the result lines follow cleanly. */
  finish(): void;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/**
 * A bar with bytes, MB/s and ETA on a terminal; on anything else (a log
 * file, CI) one plain line per 10 % so the output stays readable.
 */
export function createUploadProgressView(stream: ProgressStream, options: { now?: () => number } = {}): UploadProgressView {
  const now = options.now ?? (() => Date.now());
  return stream.isTTY ? new BarView(stream as NodeJS.WritableStream, now) : new LineView(stream, now);
}

/** Rate over what this run actually sent; reused blocks are excluded so speed and ETA are honest. */
function rate(progress: UploadProgress, startedAt: number, now: number): number {
  const seconds = (now - startedAt) / 1000;
  return seconds > 0 ? progress.bytesSent / seconds : 0;
}

class BarView implements UploadProgressView {
  private bar: SingleBar | undefined;
  private startedAt = 0;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly now: () => number,
  ) {}

  update(p: UploadProgress): void {
    if (!this.bar) {
      this.bar = new SingleBar(
        {
          stream: this.stream,
          format: '{file} |{bar}| {percentage}% {done}/{size} {speed} ETA {remaining}',
          hideCursor: true,
          clearOnComplete: true,
        },
        Presets.shades_classic,
      );
      this.startedAt = this.now();
      this.bar.start(p.totalBytes, p.bytesStaged, this.payload(p));
      return;
    }
    this.bar.update(p.bytesStaged, this.payload(p, rate(p, this.startedAt, this.now())));
  }

  private payload(p: UploadProgress, bytesPerSecond = 0) {
    const remaining = p.totalBytes - p.bytesStaged;
    return {
      file: printable(p.fileName),
      done: formatBytes(p.bytesStaged),
      size: formatBytes(p.totalBytes),
      speed: formatRate(bytesPerSecond),
      remaining: bytesPerSecond > 0 ? formatDuration(remaining / bytesPerSecond) : '?',
    };
  }

  finish(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

class LineView implements UploadProgressView {
  private lastTenth = -1;
  private startedAt: number | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number,
  ) {}

  update(p: UploadProgress): void {
    if (this.startedAt === undefined) {
      this.startedAt = this.now();
    }
    const tenth = p.totalBytes === 0 ? 10 : Math.floor((p.bytesStaged / p.totalBytes) * 10);
    if (tenth <= this.lastTenth) return;
    this.lastTenth = tenth;
    const r = rate(p, this.startedAt, this.now());
    const reused = p.blocksReused > 0 ? `, ${p.blocksReused} blocks reused` : '';
    this.stream.write(
      `upload ${printable(p.fileName)}: ${tenth * 10}% (${formatBytes(p.bytesStaged)} of ${formatBytes(p.totalBytes)}, ${formatRate(r)}${reused})\n`,
    );
  }

  finish(): void {
    this.lastTenth = -1;
    this.startedAt = undefined;
  }
}
