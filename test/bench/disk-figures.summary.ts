/**
 * The figures issue 15 asks of `npm run bench:disk`, from measured values:
 * Exhibit's wall time ÷ the shell baseline's (median of the pairs), and bytes
 * read from storage ÷ image bytes; and the check of the pipeline's file list
 * against the files written into the image. Pure, for unit tests.
 */
import { median } from './pair-ratios.summary.js';

export const WALL_RATIO_GOAL = 1.5;
export const READ_PER_IMAGE_BYTE_GOAL = 1.2;
export const HOST_PEAK_RSS_GOAL_BYTES = 512 * 1024 * 1024;

export interface WallPair {
  baselineMs: number;
  exhibitMs: number;
}

/** Exhibit wall time ÷ baseline wall time: below 1 means Exhibit was faster; the goal is at most 1.5. */
export function wallRatio(pair: WallPair): number {
  if (!(pair.baselineMs > 0) || !(pair.exhibitMs > 0)) throw new Error(`wall times must be positive, got ${pair.baselineMs} and ${pair.exhibitMs}`);
  return pair.exhibitMs / pair.baselineMs;
}

/** The line the goal is read from, last in the output. */
export function wallRatioLine(pairs: readonly WallPair[]): string {
  const r = median(pairs.map(wallRatio));
  return `Exhibit wall time ÷ shell baseline wall time (median of ${pairs.length} pairs): ${r.toFixed(2)} (goal ≤ ${WALL_RATIO_GOAL}: ${r <= WALL_RATIO_GOAL ? 'met' : 'missed'})`;
}

/** Index of the pair whose ratio is nearest the median (the first on a tie): the run printed in full. */
export function medianWallPairIndex(pairs: readonly WallPair[]): number {
  const ratios = pairs.map(wallRatio);
  const m = median(ratios);
  return ratios.reduce((best, r, i) => (Math.abs(r - m) < Math.abs(ratios[best]! - m) ? i : best), 0);
}

export function readPerImageByte(bytesRead: number, imageBytes: number): number {
  if (!(imageBytes > 0)) throw new Error(`image bytes must be positive, got ${imageBytes}`);
  return bytesRead / imageBytes;
}

export interface ImageFile {
  path: string;
  sha256: string;
}

export interface ImageCheck {
  complete: boolean;
  failed: number;
  /** Regular files in the index under the image (the image itself not counted). */
  filesInIndex: number;
  missing: string[];
  sha256Mismatches: string[];
  /**
   * Every item of the evidence that carries a failure, with its reason, so a run's
   * failures can be explained after the bench has removed the host's data folder.
   */
  failures: FailedFile[];
  correct: boolean;
}

export interface FailedFile {
  path: string;
  stage: string;
  code: string;
  detail: string;
}

/**
 * Every file written into the image must be in the index at `<image>!/<path>`
 * with the SHA-256 it was written with, nothing may have failed, and the
 * evidence must be complete.
 */
export function checkImageFiles(imageName: string, written: readonly ImageFile[], status: { complete: boolean; files: { byStage: Record<string, number> } }, items: readonly any[]): ImageCheck {
  const prefix = `${imageName}!/`;
  const byPath = new Map<string, any>();
  for (const i of items) if (i.file?.entryKind === 'file' && String(i.file.path).startsWith(prefix)) byPath.set(String(i.file.path).slice(prefix.length), i);
  const missing: string[] = [];
  const sha256Mismatches: string[] = [];
  for (const f of written) {
    const item = byPath.get(f.path);
    if (!item) missing.push(f.path);
    else if (item.file.sha256 !== f.sha256) sha256Mismatches.push(f.path);
  }
  const failed = status.files.byStage.failed ?? 0;
  const failures: FailedFile[] = items
    .filter((i) => i.failure != null)
    .map((i) => ({ path: String(i.file?.path), stage: String(i.failure.stage), code: String(i.failure.code), detail: String(i.failure.detail) }));
  return {
    complete: Boolean(status.complete),
    failed,
    filesInIndex: byPath.size,
    missing,
    sha256Mismatches,
    failures,
    correct: Boolean(status.complete) && failed === 0 && missing.length === 0 && sha256Mismatches.length === 0,
  };
}
