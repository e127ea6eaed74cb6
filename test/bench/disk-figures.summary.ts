/**
 * The figures issue 15 asks of `npm run bench:disk`, from measured values:
 * Exhibit's wall time ÷ the shell baseline's (median of the pairs), and bytes
 * read from storage ÷ image bytes; the lines that say how much of the gap is
 * the work itself (Exhibit ÷ the same-work reference, the work floor ÷ the
 * baseline); and the check of the pipeline's file list against the files
 * written into the image. Pure, for unit tests.
 */
import { median } from './pair-ratios.summary.js';
import { floorWallMs, type FloorWork } from './work-floor.summary.js';

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

/** One side of a comparison in one pair: its wall time and the CPU it took (null: not measured). */
export interface SideFigures {
  wallMs: number;
  cpuSec: number | null;
}

export interface NamedSides {
  name: string;
  /** One per pair, in pair order. */
  sides: readonly SideFigures[];
}

const sideText = (name: string, wallMs: number, cpuSec: number | null) =>
  `${name} ${(wallMs / 1000).toFixed(1)} s wall, ${cpuSec === null ? 'n/a' : `${cpuSec.toFixed(0)} s`} CPU`;

/**
 * `LABEL (median of N pairs): wall R, CPU R (TOP … s wall, … s CPU; BOTTOM …)`:
 * the medians over the pairs of TOP ÷ BOTTOM for wall time and for CPU, then
 * each side's median wall time and CPU. CPU is n/a when a pair lacks it.
 */
export function sidesRatioLine(label: string, top: NamedSides, bottom: NamedSides): string {
  const n = top.sides.length;
  if (n === 0 || bottom.sides.length !== n) throw new Error(`${label}: ${n} and ${bottom.sides.length} pairs; each side needs one figure per pair`);
  const wall = median(top.sides.map((t, i) => wallRatio({ exhibitMs: t.wallMs, baselineMs: bottom.sides[i]!.wallMs })));
  const cpus = (x: NamedSides) => x.sides.map((side) => side.cpuSec);
  const known = (v: Array<number | null>): v is number[] => v.every((c) => c !== null && c > 0);
  const [topCpu, bottomCpu] = [cpus(top), cpus(bottom)];
  const cpu = known(topCpu) && known(bottomCpu) ? median(topCpu.map((c, i) => c / bottomCpu[i]!)).toFixed(2) : 'n/a';
  const mid = (x: NamedSides) => {
    const c = cpus(x);
    return sideText(x.name, median(x.sides.map((side) => side.wallMs)), c.every((v) => v !== null) ? median(c as number[]) : null);
  };
  return `${label} (median of ${n} pairs): wall ${wall.toFixed(2)}, CPU ${cpu} (${mid(top)}; ${mid(bottom)})`;
}

/** The disk image's floor work: the evidence hashed once (its acquisition hash), every file in it hashed, every photo thumbnailed. */
export function diskFloorWork(evidenceBytes: number, files: readonly { bytes: number; kind: string }[]): FloorWork {
  return { hashedBytes: evidenceBytes + files.reduce((sum, f) => sum + f.bytes, 0), photos: files.filter((f) => f.kind === 'photo').length };
}

/**
 * The work floor against the issue's baseline: the least wall time any
 * implementation could take for Exhibit's work on this machine ÷ the
 * baseline's, per pair (the floor is measured once). Above the goal, no
 * implementation could meet it here.
 */
export function floorRatioLine(floor: { cpuMs: number; cores: number }, baseline: readonly SideFigures[]): string {
  const wallMs = floorWallMs(floor.cpuMs, floor.cores);
  const line = sidesRatioLine(
    'work floor ÷ issue baseline (least any implementation could reach here)',
    { name: `work floor (${floor.cores} cores)`, sides: baseline.map(() => ({ wallMs, cpuSec: floor.cpuMs / 1000 })) },
    { name: 'issue baseline', sides: baseline },
  );
  const reachable = median(baseline.map((b) => wallMs / b.wallMs)) <= WALL_RATIO_GOAL;
  return `${line}: goal ≤ ${WALL_RATIO_GOAL} ${reachable ? 'not ruled out by the floor' : 'out of reach on this machine'}`;
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
