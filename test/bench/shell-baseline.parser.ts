/**
 * Reads what test/bench/shell-baseline.sh prints: one `baseline-…` record a
 * line, then the two lines of bash's `times` builtin. Pure, so the format is
 * held by a unit test rather than discovered in a long bench run.
 */

export interface BaselineStep {
  name: string;
  wallMs: number;
}

export interface BaselineReport {
  steps: BaselineStep[];
  /** Wall ms of all steps, by the script's own clock; null if the script stopped early. */
  totalMs: number | null;
  /** Regular files unzipped. */
  files: number | null;
  /** Tools not on the PATH: the script ran nothing. */
  missingTools: string[];
  /** Invocations that failed, by step. */
  failures: Record<string, number>;
  /** CPU seconds (user + system) of the tools the script waited for, and of the shell itself; null without a `times` output. */
  childrenCpuSec: number | null;
  shellCpuSec: number | null;
}

/** `1m2.345s` → 62.345. */
export function parseTimesDuration(text: string): number {
  const match = /^(\d+)m(\d+(?:\.\d+)?)s$/.exec(text);
  if (!match) throw new Error(`not a bash 'times' duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * 60 + Number(match[2]);
}

const TIMES_LINE = /^(\d+m\d+(?:\.\d+)?s) (\d+m\d+(?:\.\d+)?s)$/;

function wholeNumber(text: string | undefined, line: string): number {
  const n = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw new Error(`shell baseline: bad number in ${JSON.stringify(line)}`);
  return n;
}

export function parseShellBaselineOutput(stdout: string): BaselineReport {
  const report: BaselineReport = { steps: [], totalMs: null, files: null, missingTools: [], failures: {}, childrenCpuSec: null, shellCpuSec: null };
  const timesLines: Array<[number, number]> = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const times = TIMES_LINE.exec(line);
    if (times) {
      timesLines.push([parseTimesDuration(times[1]!), parseTimesDuration(times[2]!)]);
      continue;
    }
    const [tag, ...rest] = line.split(' ');
    switch (tag) {
      case 'baseline-step':
        if (rest.length !== 2) throw new Error(`shell baseline: bad step record ${JSON.stringify(line)}`);
        report.steps.push({ name: rest[0]!, wallMs: wholeNumber(rest[1], line) });
        break;
      case 'baseline-total':
        report.totalMs = wholeNumber(rest[0], line);
        break;
      case 'baseline-files':
        report.files = wholeNumber(rest[0], line);
        break;
      case 'baseline-missing':
        report.missingTools.push(rest.join(' '));
        break;
      case 'baseline-failed':
        report.failures[rest[0] ?? '?'] = (report.failures[rest[0] ?? '?'] ?? 0) + wholeNumber(rest[1], line);
        break;
      default:
        // Anything else (a tool's chatter) is not part of the record.
        break;
    }
  }
  // `times` prints the shell's own user/system time, then its children's.
  if (timesLines.length >= 2) {
    const [shell, children] = timesLines.slice(-2) as [[number, number], [number, number]];
    report.shellCpuSec = shell[0] + shell[1];
    report.childrenCpuSec = children[0] + children[1];
  }
  return report;
}

/** Debian packages that provide the baseline's tools. */
export const BASELINE_DEBIAN_PACKAGES: Record<string, string> = {
  hashdeep: 'hashdeep',
  unzip: 'unzip',
  exiftool: 'libimage-exiftool-perl',
  vipsthumbnail: 'libvips-tools',
  ffmpeg: 'ffmpeg',
  tsk_recover: 'sleuthkit',
};

/** The message the bench prints instead of a ratio when tools are missing. */
export function missingToolsMessage(missing: readonly string[]): string {
  const packages = [...new Set(missing.map((t) => BASELINE_DEBIAN_PACKAGES[t.split('/').at(-1)!] ?? t))];
  return (
    `shell baseline skipped: ${missing.join(', ')} not found on the PATH. ` +
    `Install with: apt-get install ${packages.join(' ')} (all of them: ${Object.values(BASELINE_DEBIAN_PACKAGES).join(' ')}); ` +
    'no ratio to the shell baseline is printed.'
  );
}
