import { createRequire } from 'node:module';
import { ExhibitError, type Logger, type ToolVersion } from '@exhibit/core';
import { MEDIA_LIMITS } from '../media-limits.js';
import { runTool } from './run-tool.js';

export type MediaToolName = 'ffmpeg' | 'ffprobe';

export interface MediaToolConfig {
  ffmpegPath?: string | undefined;
  ffprobePath?: string | undefined;
}

export interface ResolvedTool {
  name: MediaToolName;
  path: string;
  /** First line of `<tool> -version`. */
  version: string;
  origin: 'config' | 'system' | 'bundled';
}

const BUNDLED_PACKAGE: Record<MediaToolName, string> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};

/**
 * Finds ffmpeg/ffprobe: the configured path when set (and nothing else, so a
 * result never silently comes from a different build), else the system's on
 * PATH, else the binary shipped in the npm installer package. Successful
 * resolutions are cached; failures are not, so a later install is picked up.
 */
export class MediaToolResolver {
  private readonly cache = new Map<MediaToolName, Promise<ResolvedTool>>();
  private readonly logger: Logger | undefined;

  constructor(
    private readonly config: MediaToolConfig,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger;
  }

  /** Throws ExhibitError 'tool-unavailable' (retryable) when no working binary is found. */
  resolve(name: MediaToolName): Promise<ResolvedTool> {
    let pending = this.cache.get(name);
    if (!pending) {
      pending = this.locate(name);
      this.cache.set(name, pending);
      pending.catch(() => this.cache.delete(name));
    }
    return pending;
  }

  async toolVersion(name: MediaToolName): Promise<ToolVersion> {
    const tool = await this.resolve(name);
    return { name: tool.name, version: tool.version };
  }

  private async locate(name: MediaToolName): Promise<ResolvedTool> {
    const configured = name === 'ffmpeg' ? this.config.ffmpegPath : this.config.ffprobePath;
    if (configured) {
      const version = await firstVersionLine(name, configured);
      if (version === null) {
        throw new ExhibitError('tool-unavailable', `${name} configured at ${configured} does not run`);
      }
      return this.found({ name, path: configured, version, origin: 'config' });
    }
    const system = await firstVersionLine(name, name);
    if (system !== null) return this.found({ name, path: name, version: system, origin: 'system' });

    const bundledPath = bundledBinary(name);
    if (bundledPath) {
      const version = await firstVersionLine(name, bundledPath);
      if (version !== null) return this.found({ name, path: bundledPath, version, origin: 'bundled' });
    }
    throw new ExhibitError('tool-unavailable', `${name} not found: not configured, not on PATH, no working ${BUNDLED_PACKAGE[name]} binary`);
  }

  private found(tool: ResolvedTool): ResolvedTool {
    this.logger?.debug({ tool: tool.name, origin: tool.origin, version: tool.version }, 'media tool resolved');
    return tool;
  }
}

async function firstVersionLine(name: MediaToolName, file: string): Promise<string | null> {
  try {
    const { stdout } = await runTool(name, file, ['-version'], {
      timeoutMs: MEDIA_LIMITS.versionProbeTimeoutMs,
      maxStdoutBytes: 1024 * 1024,
    });
    const line = stdout.toString('utf8').split(/\r?\n/, 1)[0]?.trim() ?? '';
    return line.startsWith(`${name} version`) ? line : null;
  } catch {
    return null;
  }
}

function bundledBinary(name: MediaToolName): string | null {
  try {
    // The installer packages are CommonJS and throw on unsupported platforms.
    const require = createRequire(import.meta.url);
    const mod = require(BUNDLED_PACKAGE[name]) as { path?: unknown };
    return typeof mod.path === 'string' ? mod.path : null;
  } catch {
    return null;
  }
}
