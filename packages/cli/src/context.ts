import { loadConfig, type ExhibitConfig } from '@exhibit/core';
import { createApiClient, type ApiClient } from './api/api-client.js';
import { readToken } from './token-store.js';
import type { BlockBlobStore } from './upload/block-blob-target.port.js';
import { createAzureBlockBlobStore } from './upload/upload.azure.js';
import { EXIT, type ExitCode } from './cli-error.js';

export interface TextStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  /** The terminal's width, when it is one. */
  columns?: number;
}

/**
 * What a command may use. Built once per run by main.ts; tests build their
 * own with captured streams and a config pointing at Azurite / a local server.
 */
export interface CliContext {
  /** Loaded on first use, so `--help` works without a valid environment. */
  config(): ExhibitConfig;
  /** Results (human or --json). */
  stdout: TextStream;
  /** Progress, notices and errors. */
  stderr: TextStream;
  /** Aborted on Ctrl-C; long operations stop cleanly and can be resumed. */
  abortSignal: AbortSignal;
  blockBlobs(): BlockBlobStore;
  /** An API client with the caller's token (EXHIBIT_TOKEN, else the file `exhibit login` wrote). */
  api(): Promise<ApiClient>;
  /** Raises the process exit code (never lowers it) without stopping the command. */
  setExitCode(code: ExitCode): void;
  readonly exitCode: ExitCode;
}

export interface ContextOptions {
  env?: NodeJS.ProcessEnv;
  stdout?: TextStream;
  stderr?: TextStream;
  abortSignal?: AbortSignal;
  cwd?: string;
}

export function createCliContext(options: ContextOptions = {}): CliContext {
  let config: ExhibitConfig | undefined;
  let blockBlobs: BlockBlobStore | undefined;
  let exitCode: ExitCode = EXIT.ok;
  const ctx: CliContext = {
    config: () => (config ??= loadConfig(options.env, options.cwd === undefined ? {} : { cwd: options.cwd })),
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    abortSignal: options.abortSignal ?? new AbortController().signal,
    blockBlobs: () => (blockBlobs ??= createAzureBlockBlobStore(ctx.config().storage)),
    api: async () => {
      const cfg = ctx.config();
      const token = cfg.cli.token ?? (await readToken(cfg.dataDir));
      return createApiClient({ baseUrl: cfg.api.baseUrl, token });
    },
    setExitCode: (code) => {
      if (code > exitCode) exitCode = code;
    },
    get exitCode() {
      return exitCode;
    },
  };
  return ctx;
}
