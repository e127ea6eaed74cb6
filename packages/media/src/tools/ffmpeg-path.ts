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
  /** The version from `<tool> -version`, e.g. `6.1.1` or `5.1.9-0+deb12u1`: what derived items record. */
  version: string;
  /** The whole first line of `<tool> -version`, for logs. */
  banner: string;
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
      const version = await probeVersion(name, configured);
      if (version === null) {
        throw new ExhibitError('tool-unavailable', `${name} configured at ${configured} does not run`);
      }
      return this.found({ name, path: configured, ...version, origin: 'config' });
    }
    const system = await probeVersion(name, name);
    if (system !== null) return this.found({ name, path: name, ...system, origin: 'system' });

    const bundledPath = bundledBinary(name);
    if (bundledPath) {
      const version = await probeVersion(name, bundledPath);
      if (version !== null) return this.found({ name, path: bundledPath, ...version, origin: 'bundled' });
    }
    throw new ExhibitError('tool-unavailable', `${name} not found: not configured, not on PATH, no working ${BUNDLED_PACKAGE[name]} binary`);
  }

  private found(tool: ResolvedTool): ResolvedTool {
    this.logger?.debug({ tool: tool.name, origin: tool.origin, version: tool.version, banner: tool.banner }, 'media tool resolved');
    return tool;
  }
}

/**
 * The version in the first line of `<tool> -version`, which reads
 * `ffprobe version 6.1.1-3ubuntu5 Copyright (c) 2007-2023 the FFmpeg developers`
 * (or `… version n7.0 …`, `… version N-113684-g… …` for builds from git):
 * the word after "version". Null when the line is not such a banner.
 */
export function parseVersionBanner(name: MediaToolName, firstLine: string): { version: string; banner: string } | null {
  const banner = firstLine.trim();
  const m = new RegExp(`^${name} version (\\S+)`).exec(banner);
  return m?.[1] ? { version: m[1], banner } : null;
}

async function probeVersion(name: MediaToolName, file: string): Promise<{ version: string; banner: string } | null> {
  try {
    const { stdout } = await runTool(name, file, ['-version'], {
      timeoutMs: MEDIA_LIMITS.versionProbeTimeoutMs,
      maxStdoutBytes: 1024 * 1024,
    });
    return parseVersionBanner(name, stdout.toString('utf8').split(/\r?\n/, 1)[0] ?? '');
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
