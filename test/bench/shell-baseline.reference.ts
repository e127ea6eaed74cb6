import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseShellBaselineOutput, type BaselineReport } from './shell-baseline.parser.js';

const SCRIPT = fileURLToPath(new URL('./shell-baseline.sh', import.meta.url));

export interface BaselineRun {
  report: BaselineReport;
  /** Wall ms of the script's steps, by its own clock (bash start-up and the tool check left out). */
  wallMs: number;
  filesPerSec: number;
  /** CPU ms of the tools (and the shell) per member. */
  cpuMsPerFile: number | null;
}

export type BaselineOutcome = { kind: 'ran'; run: BaselineRun } | { kind: 'missing-tools'; missingTools: string[] };

/**
 * Runs test/bench/shell-baseline.sh (or `script`, which prints the same
 * records: disk-baseline.sh) on the evidence file in a fresh work folder,
 * removed afterwards. `ffmpeg` is the build Exhibit's side uses, so both
 * sides decode video with the same code.
 */
export async function runShellBaseline(
  evidenceFile: string,
  options: { workDir: string; ffmpeg?: string; members: number; script?: string },
): Promise<BaselineOutcome> {
  await rm(options.workDir, { recursive: true, force: true });
  try {
    const child = spawn('bash', [options.script ?? SCRIPT, evidenceFile, options.workDir], {
      env: { ...process.env, ...(options.ffmpeg === undefined ? {} : { FFMPEG: options.ffmpeg }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    const report = parseShellBaselineOutput(stdout);
    if (report.missingTools.length > 0) return { kind: 'missing-tools', missingTools: report.missingTools };
    if (code !== 0 || report.totalMs === null) throw new Error(`the shell baseline failed (exit ${code}):\n${stderr.slice(-4000)}`);
    if (report.files !== options.members) throw new Error(`the shell baseline extracted ${report.files} files, the corpus has ${options.members}`);
    const wallMs = report.totalMs;
    const cpuSec = report.childrenCpuSec === null ? null : report.childrenCpuSec + (report.shellCpuSec ?? 0);
    return {
      kind: 'ran',
      run: { report, wallMs, filesPerSec: options.members / (wallMs / 1000), cpuMsPerFile: cpuSec === null ? null : (cpuSec * 1000) / options.members },
    };
  } finally {
    await rm(options.workDir, { recursive: true, force: true });
  }
}
