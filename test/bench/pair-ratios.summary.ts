/**
 * The bench runs the shell baseline and Exhibit alternately, in pairs, since
 * a shared machine's speed drifts over minutes; a pair's ratio compares two
 * runs made close together, and the median of the pairs' ratios is the
 * figure. Pure, for unit tests.
 */

export interface PairTiming {
  /** Files per second of the shell baseline in this pair. */
  baselineFilesPerSec: number;
  /** Files per second of Exhibit in this pair. */
  exhibitFilesPerSec: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`median of a value that is not finite: ${values.join(', ')}`);
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Exhibit files/s ÷ shell baseline files/s: above 1 means Exhibit was faster. */
export function pairRatio(pair: PairTiming): number {
  if (!(pair.baselineFilesPerSec > 0)) throw new Error(`the shell baseline's files/s must be positive, got ${pair.baselineFilesPerSec}`);
  return pair.exhibitFilesPerSec / pair.baselineFilesPerSec;
}

/** Two decimals: the machine's noise is larger than a third would resolve. */
export function formatRatio(ratio: number): string {
  return ratio.toFixed(2);
}

/** The line the target is read from, exactly: `ratio to shell baseline (median of N pairs): R`. */
export function ratioLine(pairs: readonly PairTiming[]): string {
  return `ratio to shell baseline (median of ${pairs.length} pairs): ${formatRatio(median(pairs.map(pairRatio)))}`;
}

/** Index of the pair whose ratio is closest to the median (the first on a tie): the run whose breakdown is printed in full. */
export function medianPairIndex(pairs: readonly PairTiming[]): number {
  const ratios = pairs.map(pairRatio);
  const m = median(ratios);
  let best = 0;
  for (let i = 1; i < ratios.length; i++) if (Math.abs(ratios[i]! - m) < Math.abs(ratios[best]! - m)) best = i;
  return best;
}

/**
 * One pair of `--known-hashes` runs (docs/benchmarks.md, known files): the
 * same corpus with the known-hash set enabled and with it disabled.
 */
export interface WithWithoutPair {
  withFilesPerSec: number;
  withoutFilesPerSec: number;
  /** CPU per file of the run: host, Azurite and (on a server) the index's backends. */
  withCpuMsPerFile: number;
  withoutCpuMsPerFile: number;
}

/** A pair's files/s and CPU per file, set enabled ÷ disabled: files/s below 1 and CPU above 1 mean the set costs. */
export function withWithoutRatios(pair: WithWithoutPair): { filesPerSec: number; cpuPerFile: number } {
  if (!(pair.withoutFilesPerSec > 0) || !(pair.withoutCpuMsPerFile > 0)) {
    throw new Error(`the run without known hashes needs positive files/s and CPU per file, got ${pair.withoutFilesPerSec} and ${pair.withoutCpuMsPerFile}`);
  }
  return { filesPerSec: pair.withFilesPerSec / pair.withoutFilesPerSec, cpuPerFile: pair.withCpuMsPerFile / pair.withoutCpuMsPerFile };
}

/** A ratio as a signed percentage change: 0.985 is "-1.5 %". */
export function percentChange(ratio: number): string {
  const pct = (ratio - 1) * 100;
  return `${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %`;
}

/**
 * The line issue 14's goal (< 3 % slower with 20 million known hashes) is read
 * from: the medians over pairs of the two ratios, three decimals (a percent is
 * what the goal resolves).
 */
export function knownHashesLine(rows: number, pairs: readonly WithWithoutPair[]): string {
  const ratios = pairs.map(withWithoutRatios);
  const files = median(ratios.map((r) => r.filesPerSec));
  const cpu = median(ratios.map((r) => r.cpuPerFile));
  return (
    `known hashes ${rows.toLocaleString('en-GB')} loaded ÷ none (median of ${pairs.length} pairs): ` +
    `files/s ${files.toFixed(3)} (${percentChange(files)}), CPU/file ${cpu.toFixed(3)} (${percentChange(cpu)})`
  );
}
