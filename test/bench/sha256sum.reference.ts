import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ReferenceTiming {
  command: string;
  files: number;
  bytes: number;
  wallMs: number;
  mbPerSec: number;
}

async function readThrough(file: string): Promise<void> {
  for await (const _ of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    // drain: only the page cache matters
  }
}

/**
 * Wall time of coreutils `sha256sum` over `files` with a warm page cache
 * (each file is read once first), so the reference measures hashing, not the
 * disk — as the pipeline, reading from Azurite, mostly hits the cache too.
 */
export async function timeSha256sum(files: string[], options: { label: string }): Promise<ReferenceTiming> {
  let bytes = 0;
  for (const file of files) {
    bytes += (await stat(file)).size;
    await readThrough(file);
  }
  const started = performance.now();
  await run('sha256sum', files, { maxBuffer: 64 * 1024 * 1024 });
  const wallMs = performance.now() - started;
  return { command: `sha256sum ${options.label}`, files: files.length, bytes, wallMs, mbPerSec: bytes / 1e6 / (wallMs / 1000) };
}
