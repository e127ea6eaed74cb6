import { createRequire } from 'node:module';
import { ExhibitError, errorMessage } from '@exhibit/core';
import type { TaskHandler } from '@exhibit/core/worker-runtime';
import type HeicDecode from 'heic-decode';

/** A HEIC decoder thread's task (heic.worker.ts): the file's bytes (a copy the thread owns) and the pixel limit. */
export interface HeicDecodeInput {
  bytes: ArrayBuffer;
  maxPixels: number;
}

/** The first image, upright RGBA, its pixels moved (not copied) to the main thread. */
export interface HeicDecodeOutput {
  pixels: ArrayBuffer;
  width: number;
  height: number;
}

/**
 * Loads heic-decode from the absolute path the main thread resolved (so the
 * thread finds the same copy under tsx, vitest and the Functions bundle,
 * where heic-decode is external). libheif-js prints the parse errors of
 * hostile files with console.log, bound when it loads: the console is
 * silenced first (its failures reach the pool as replies). A module that
 * cannot be loaded stops the thread before it is ready: 'tool-unavailable'.
 */
export function loadHeicDecode(heicDecodePath: string): typeof HeicDecode {
  for (const name of ['log', 'info', 'warn', 'error', 'debug'] as const) console[name] = () => undefined;
  return createRequire(import.meta.url)(heicDecodePath) as typeof HeicDecode;
}

/**
 * Decodes the first top-level image: its dimensions are read from the
 * container and checked against `maxPixels` before any pixel is decoded.
 * The messages and codes are those decodeHeic has always had.
 */
export function heicDecodeTask(decode: typeof HeicDecode): TaskHandler {
  return async (raw) => {
    const { bytes, maxPixels } = raw as HeicDecodeInput;
    let images;
    try {
      images = await decode.all({ buffer: new Uint8Array(bytes) });
    } catch (err) {
      throw new ExhibitError('decode-failed', `HEIF container unreadable: ${errorMessage(err)}`);
    }
    try {
      const first = images[0];
      if (!first) throw new ExhibitError('decode-failed', 'HEIF file holds no image');
      const { width, height } = first;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new ExhibitError('decode-failed', `HEIF image has invalid dimensions ${width}x${height}`);
      }
      if (width * height > maxPixels) {
        throw new ExhibitError('limit-exceeded', `HEIF image is ${width}x${height} pixels, more than the ${maxPixels} allowed`);
      }
      let decoded;
      try {
        decoded = await first.decode();
      } catch (err) {
        throw new ExhibitError('decode-failed', `HEIF image data could not be decoded: ${errorMessage(err)}`);
      }
      const data = decoded.data;
      if (data.byteLength !== decoded.width * decoded.height * 4) {
        throw new ExhibitError('decode-failed', 'HEIF decoder returned an unexpected amount of pixel data');
      }
      // heic-decode allocates the pixels as their own ArrayBuffer: moved, not copied.
      const pixels = (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data.buffer : data.slice().buffer) as ArrayBuffer;
      const value: HeicDecodeOutput = { pixels, width: decoded.width, height: decoded.height };
      return { value, transfer: [pixels] };
    } catch (err) {
      if (err instanceof ExhibitError) throw err;
      throw new ExhibitError('decode-failed', `HEIF decoding failed: ${errorMessage(err)}`);
    } finally {
      images.dispose();
    }
  };
}
