/**
 * The independent tools the validator compares Exhibit with: exiftool (Phil
 * Harvey's Perl reader, Debian libimage-exiftool-perl) and ffprobe (FFmpeg).
 * Each is optional: when one is missing its fields are "not compared" and the
 * report says why. Runs are child processes with no shell and absolute paths,
 * so no file name can become an option.
 */
import { execFile } from 'node:child_process';
import type { ExiftoolRecord, FfprobeJson } from './fields.compare.js';

export interface ReferenceTool {
  name: 'exiftool' | 'ffprobe';
  path: string;
  version: string;
}

const TOOL_TIMEOUT_MS = 300_000;
const MAX_OUTPUT_BYTES = 512 * 1024 * 1024;
/** Files per exiftool run: one Perl start-up for many files, argument lists far below ARG_MAX. */
export const EXIFTOOL_BATCH = 100;

function run(path: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    execFile(path, args, { timeout: TOOL_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(err);
      if (err && typeof (err as { code?: unknown }).code !== 'number' && !stdout) return reject(err);
      resolve({ stdout, stderr, code: err ? Number((err as { code?: unknown }).code ?? 1) : 0 });
    });
  });
}

/** The tool on PATH (or at `path`), or null with the reason. */
export async function findTool(name: 'exiftool' | 'ffprobe', path: string = name): Promise<ReferenceTool | { missing: string }> {
  try {
    const { stdout, code } = await run(path, name === 'exiftool' ? ['-ver'] : ['-version']);
    const version = stdout.split('\n')[0]?.trim() ?? '';
    if (code !== 0 || version === '') return { missing: `${path} did not run` };
    return { name, path, version: name === 'ffprobe' ? version.replace(/^ffprobe version /, '').split(' ')[0]! : version };
  } catch {
    return { missing: `${name} is not installed (not on PATH)` };
  }
}

/**
 * exiftool `-j -n -G1` over absolute paths, in batches. Keys are the paths as
 * given. A file exiftool cannot read still gets a record (with
 * `ExifTool:Error`); a batch whose output is not JSON fails as a whole.
 */
export async function exiftoolRecords(tool: ReferenceTool, files: readonly string[]): Promise<Map<string, ExiftoolRecord>> {
  const out = new Map<string, ExiftoolRecord>();
  for (let i = 0; i < files.length; i += EXIFTOOL_BATCH) {
    const batch = files.slice(i, i + EXIFTOOL_BATCH);
    // -n: numbers, not prose (signed GPS degrees, "W H" sizes); -G1: the group of each tag,
    // so IFD0:Make is told from XMP-tiff:Make; LargeFileSupport: videos over 2 GiB.
    const args = ['-j', '-n', '-G1', '-charset', 'filename=utf8', '-api', 'LargeFileSupport=1', ...batch];
    const { stdout, stderr } = await run(tool.path, args);
    let parsed: unknown;
    try {
      parsed = stdout.trim() === '' ? [] : JSON.parse(stdout);
    } catch (err) {
      throw new Error(`exiftool printed no JSON for files ${i + 1}–${i + batch.length}: ${stderr.slice(0, 500)}`, { cause: err });
    }
    if (!Array.isArray(parsed)) throw new Error('exiftool printed JSON that is not an array');
    for (const record of parsed as ExiftoolRecord[]) {
      if (typeof record.SourceFile === 'string') out.set(record.SourceFile, record);
    }
  }
  return out;
}

/** ffprobe's own view of a file, or the reason it has none. */
export async function ffprobeJson(tool: ReferenceTool, file: string): Promise<FfprobeJson | { error: string }> {
  const { stdout, stderr, code } = await run(tool.path, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-i', file]);
  if (code !== 0) return { error: stderr.trim().split('\n').slice(-1)[0] || `ffprobe exited with ${code}` };
  try {
    return JSON.parse(stdout) as FfprobeJson;
  } catch {
    return { error: 'ffprobe printed no JSON' };
  }
}
