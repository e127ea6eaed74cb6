import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ExhibitError, redactSecrets } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';

export interface RunToolOptions {
  /** The process is killed (SIGKILL) after this long and the run fails with 'timeout'. */
  timeoutMs: number;
  /** More than this on stdout, or on any one extra output, kills the process and fails with 'limit-exceeded'. */
  maxStdoutBytes: number;
  /**
   * Extra output pipes on fds 3, 4, ... (ffmpeg writes to them as `pipe:3`, ...),
   * so one run can write several outputs that stay apart.
   */
  extraOutputs?: number;
  /** Strings (the SAS URL) replaced in stderr before it goes into any message. */
  secrets?: string[];
  /**
   * Messages looked for in the whole of stderr as it streams (not only its
   * kept tail: a file can make a tool print megabytes of warnings before or
   * after one), reported in `markersSeen`.
   */
  stderrMarkers?: readonly string[];
  abortSignal?: AbortSignal;
}

export interface RunToolResult {
  stdout: Buffer;
  /** What was written to each extra output, in fd order (fd 3 first). */
  outputs: Buffer[];
  /** Redacted tail of stderr. */
  stderr: string;
  /** The `stderrMarkers` the tool printed. */
  markersSeen: string[];
}

/** Details carried by a 'tool-failed' error so callers can classify the failure. */
export interface ToolFailureDetails {
  tool: string;
  exitCode: number | null;
  signal: string | null;
  stderr: string;
}

/** Removes secrets from tool output; the input URL is replaced as a whole. */
export function redactToolOutput(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('<input>');
  // Tools sometimes print a URL decoded or truncated; strip any query string left.
  out = out.replace(/(https?:\/\/[^\s'"?]*)\?[^\s'"]*/gi, '$1?<redacted>');
  return redactSecrets(out);
}

/**
 * Runs an external tool without a shell, with a hard timeout and bounded
 * output. Never logs or returns its arguments: they contain the SAS URL.
 */
export function runTool(name: string, file: string, args: readonly string[], options: RunToolOptions): Promise<RunToolResult> {
  const { timeoutMs, maxStdoutBytes, extraOutputs = 0, secrets = [], stderrMarkers = [], abortSignal } = options;
  if (abortSignal?.aborted) return Promise.reject(new ExhibitError('aborted', `${name} not started: aborted`));

  return new Promise<RunToolResult>((resolve, reject) => {
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe', ...Array.from({ length: extraOutputs }, () => 'pipe' as const)];
    const child = spawn(file, args, { stdio, windowsHide: true });
    let stderr = '';
    let failure: ExhibitError | undefined;

    const stop = (err: ExhibitError) => {
      if (failure) return;
      failure = err;
      child.kill('SIGKILL');
    };
    // The budget is what a caller had left, which differs from run to run: it goes in details, not in the reason.
    const timer = setTimeout(() => stop(new ExhibitError('timeout', `${name} did not finish within its time limit and was killed`, { details: { timeoutMs } })), timeoutMs);
    const onAbort = () => stop(new ExhibitError('aborted', `${name} aborted`));
    abortSignal?.addEventListener('abort', onAbort, { once: true });

    // Every output pipe (stdout, then fds 3, 4, ...) is collected apart, each under the cap.
    const [, stdoutStream, stderrStream, ...extraStreams] = child.stdio as Array<Readable | null>;
    const collectors = [stdoutStream, ...extraStreams].map((stream) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream?.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxStdoutBytes) {
          stop(new ExhibitError('limit-exceeded', `${name} produced more than ${maxStdoutBytes} bytes of output`));
          return;
        }
        chunks.push(chunk);
      });
      return chunks;
    });
    // Each chunk is searched with the end of the one before it, so a marker split between two is found.
    const seen = new Set<string>();
    const overlap = Math.max(0, ...stderrMarkers.map((m) => m.length - 1));
    let carry = '';
    stderrStream?.setEncoding('utf8');
    stderrStream?.on('data', (chunk: string) => {
      if (stderrMarkers.length > 0) {
        const window = carry + chunk;
        for (const marker of stderrMarkers) if (window.includes(marker)) seen.add(marker);
        carry = overlap > 0 ? window.slice(-overlap) : ''; // slice(-0) is the whole window
      }
      stderr += chunk;
      if (stderr.length > MEDIA_LIMITS.maxStderrBytes * 2) stderr = stderr.slice(-MEDIA_LIMITS.maxStderrBytes);
    });

    const finish = () => {
      clearTimeout(timer);
      abortSignal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      finish();
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        reject(new ExhibitError('tool-unavailable', `${name} cannot be started (${err.code})`, { cause: err }));
      } else {
        reject(new ExhibitError('tool-failed', `${name} failed to start: ${err.message}`, { cause: err }));
      }
    });
    child.on('close', (exitCode, signal) => {
      finish();
      const tail = redactToolOutput(stderr.slice(-MEDIA_LIMITS.maxStderrBytes), secrets).trim();
      if (failure) {
        reject(failure);
        return;
      }
      if (exitCode !== 0) {
        const details: ToolFailureDetails = { tool: name, exitCode, signal, stderr: tail };
        const reason = lastLines(tail, 3) || (signal ? `killed by ${signal}` : `exit code ${exitCode}`);
        reject(new ExhibitError('tool-failed', `${name} failed: ${reason}`, { details: { ...details } }));
        return;
      }
      const [stdout, ...outputs] = collectors.map((chunks) => Buffer.concat(chunks));
      resolve({ stdout: stdout!, outputs, stderr: tail, markersSeen: [...seen] });
    });
  });
}

/**
 * The last lines of stderr without what changes from run to run on the same
 * file (ffmpeg's context addresses, `[mov,mp4 @ 0x55d5c8a0e2c0]`), so the
 * recorded reason is the same every run.
 */
function lastLines(text: string, count: number): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/gi, ']'))
    .filter((l) => l.trim() !== '')
    .slice(-count)
    .join(' | ')
    .slice(0, 600);
}
