import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { MediaToolResolver } from './ffmpeg-path.js';

describe('MediaToolResolver', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('finds ffmpeg and ffprobe and reports the first line of -version', async () => {
    const resolver = new MediaToolResolver({});
    const ffmpeg = await resolver.resolve('ffmpeg');
    const ffprobe = await resolver.resolve('ffprobe');
    expect(ffmpeg.version).toMatch(/^ffmpeg version \S+/);
    expect(ffprobe.version).toMatch(/^ffprobe version \S+/);
    expect(await resolver.toolVersion('ffmpeg')).toEqual({ name: 'ffmpeg', version: ffmpeg.version });
    // Cached: the same object comes back.
    expect(await resolver.resolve('ffmpeg')).toBe(ffmpeg);
  });

  it('uses the configured path and nothing else when one is set', async () => {
    const shipped = (createRequire(import.meta.url)('@ffprobe-installer/ffprobe') as { path: string }).path;
    const configured = await new MediaToolResolver({ ffprobePath: shipped }).resolve('ffprobe');
    expect(configured).toMatchObject({ origin: 'config', path: shipped });

    const broken = new MediaToolResolver({ ffmpegPath: '/nonexistent/ffmpeg' });
    const err = await broken.resolve('ffmpeg').catch((e: unknown) => e);
    expect(isExhibitError(err, 'tool-unavailable')).toBe(true);
  });

  it('falls back to the binary shipped in the npm installer package when none is on PATH', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    const tool = await new MediaToolResolver({}).resolve('ffprobe');
    expect(tool.origin).toBe('bundled');
    expect(tool.path).toContain('@ffprobe-installer');
    expect(tool.version).toMatch(/^ffprobe version /);
  });
});
