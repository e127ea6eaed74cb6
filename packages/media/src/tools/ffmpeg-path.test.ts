import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { MediaToolResolver, parseVersionBanner } from './ffmpeg-path.js';

describe('parseVersionBanner', () => {
  it.each([
    ['ffprobe version 6.1.1-3ubuntu5 Copyright (c) 2007-2023 the FFmpeg developers', '6.1.1-3ubuntu5'],
    ['ffprobe version 5.1.9-0+deb12u1 Copyright (c) 2007-2026 the FFmpeg developers', '5.1.9-0+deb12u1'],
    ['ffprobe version n7.0 Copyright (c) 2007-2024 the FFmpeg developers', 'n7.0'],
    ['ffprobe version N-113684-g6d8b8a6ee8-static https://johnvansickle.com/ffmpeg/  Copyright (c) 2007-2024', 'N-113684-g6d8b8a6ee8-static'],
  ])('takes the version from %j', (line, version) => {
    expect(parseVersionBanner('ffprobe', line)).toEqual({ version, banner: line });
  });

  it('refuses a line that is not that tool\'s banner', () => {
    expect(parseVersionBanner('ffprobe', 'ffmpeg version 6.1.1')).toBeNull();
    expect(parseVersionBanner('ffprobe', 'command not found')).toBeNull();
  });
});

describe('MediaToolResolver', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('finds ffmpeg and ffprobe and reports the version from the first line of -version', async () => {
    const resolver = new MediaToolResolver({});
    const ffmpeg = await resolver.resolve('ffmpeg');
    const ffprobe = await resolver.resolve('ffprobe');
    expect(ffmpeg.banner).toMatch(/^ffmpeg version \S+/);
    expect(ffprobe.banner).toMatch(/^ffprobe version \S+/);
    // The version alone, as derived items record it: no "version" word, no copyright.
    expect(ffprobe.version).toMatch(/^\S+$/);
    expect(ffprobe.banner).toContain(`ffprobe version ${ffprobe.version}`);
    expect(ffmpeg.banner).toContain(`ffmpeg version ${ffmpeg.version}`);
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
    expect(tool.banner).toMatch(/^ffprobe version /);
    expect(tool.version).toMatch(/^\S+$/);
  });
});
