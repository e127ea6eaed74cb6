import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** Test support (not a test): the CLI as a separate process, as a shell runs it. */
const BIN = fileURLToPath(new URL('../bin/exhibit.mjs', import.meta.url));

/**
 * The write end of a pipe whose reader has closed it: what `exhibit … | head`
 * writes to once head has read its lines and exited. Deterministic: the
 * reader has said it closed its end before the CLI starts, so every write
 * fails with EPIPE. The reader then idles until `close()` ends it.
 */
export async function closedPipe(): Promise<{ end: Writable; close: () => void }> {
  const reader = spawn('sh', ['-c', 'exec 0<&-; echo closed; exec sleep 120'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const [line] = (await once(reader.stdout!, 'data')) as [Buffer];
  if (line.toString() !== 'closed\n') throw new Error(`unexpected from the pipe reader: ${line.toString()}`);
  reader.stdin!.on('error', () => {});
  return {
    end: reader.stdin!,
    close: () => {
      reader.stdin!.destroy();
      reader.kill();
    },
  };
}

export async function runCliProcess(argv: string[], stdio: { stdout?: Writable; stderr?: Writable }, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...argv], {
    stdio: ['ignore', stdio.stdout ?? 'pipe', stdio.stderr ?? 'pipe'],
    // By default nothing reaches a real API or storage; `env` may point at one.
    env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent', ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal, out, err };
}

