import { createRequire } from 'node:module';
import { ExhibitError, errorMessage } from '@exhibit/core';
import type { TaskHandler } from '@exhibit/core/worker-runtime';
import type HeicDecode from 'heic-decode';

/** A HEIC decoder thread's task (heic.worker.ts): the file's bytes (a copy the thread owns) and the pixel limit. */
export interface HeicDecodeInput {
  bytes: ArrayBuffer;
  maxPixels: number;
}

/** The primary image, upright RGBA, its pixels moved (not copied) to the main thread. */
export interface HeicDecodeOutput {
  pixels: ArrayBuffer;
  width: number;
  height: number;
}

/** The part of heic-decode the thread uses: every top-level image, the primary first (see primaryFirst). */
export type HeicDecodeAll = Pick<typeof HeicDecode, 'all'>;

/** The libheif-js objects heic-decode's lib.js uses (libheif-js ships the rest untyped). */
interface LibheifImage {
  is_primary(): boolean;
}
interface Libheif {
  HeifDecoder: new () => { decode(buffer: Uint8Array): LibheifImage[] };
}

/**
 * libheif-js with a HeifDecoder that lists the primary image (`pitm`) first.
 * heic-decode lists the top-level images in item order and decodes the first
 * one, but the primary item need not be the first item (an edited photo
 * whose original is kept beside it, a file rewritten by another tool): the
 * thumbnail and PDQ hash were then of another picture than the one the file
 * shows, and of another size than the one recorded from the primary's `ispe`.
 */
function primaryFirst(libheif: Libheif): Libheif {
  class PrimaryFirstDecoder extends libheif.HeifDecoder {
    override decode(buffer: Uint8Array): LibheifImage[] {
      const images = super.decode(buffer);
      const primary = images.findIndex((image) => image.is_primary());
      if (primary > 0) images.unshift(...images.splice(primary, 1));
      return images;
    }
  }
  // Everything else (the module's readiness, its functions) is libheif-js's own, through the prototype.
  return Object.assign(Object.create(libheif) as Libheif, { HeifDecoder: PrimaryFirstDecoder });
}

/**
 * Loads heic-decode from the absolute path the main thread resolved (so the
 * thread finds the same copy under tsx, vitest and the Functions bundle,
 * where heic-decode is external): its decoding (lib.js) over the libheif-js
 * it depends on, with the primary image listed first. libheif-js prints the
 * parse errors of hostile files with console.log, bound when it loads: the
 * console is silenced first (its failures reach the pool as replies). A
 * module that cannot be loaded stops the thread before it is ready:
 * 'tool-unavailable'.
 */
export function loadHeicDecode(heicDecodePath: string): HeicDecodeAll {
  for (const name of ['log', 'info', 'warn', 'error', 'debug'] as const) console[name] = () => undefined;
  // Resolved from heic-decode's own file: its libheif-js, and its lib.js (index.js is lib.js over libheif-js/wasm-bundle).
  const fromHeicDecode = createRequire(heicDecodePath);
  const libheif = fromHeicDecode('libheif-js/wasm-bundle') as Libheif;
  const decodeWith = fromHeicDecode('./lib.js') as (libheif: Libheif) => HeicDecodeAll;
  return decodeWith(primaryFirst(libheif));
}

/**
 * Decodes the primary image (listed first by loadHeicDecode): its dimensions are read from the
 * container and checked against `maxPixels` before any pixel is decoded.
 * The messages and codes are those decodeHeic has always had.
 */
export function heicDecodeTask(decode: HeicDecodeAll): TaskHandler {
  return async (raw) => {
    const { bytes, maxPixels } = raw as HeicDecodeInput;
    let images;
    try {
      images = await decode.all({ buffer: new Uint8Array(bytes) });
    } catch (err) {
      throw new ExhibitError('decode-failed', `HEIF container unreadable: ${errorMessage(err)}`);
    }
    try {
      const primary = images[0];
      if (!primary) throw new ExhibitError('decode-failed', 'HEIF file holds no image');
      const { width, height } = primary;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new ExhibitError('decode-failed', `HEIF image has invalid dimensions ${width}x${height}`);
      }
      if (width * height > maxPixels) {
        throw new ExhibitError('limit-exceeded', `HEIF image is ${width}x${height} pixels, more than the ${maxPixels} allowed`);
      }
      let decoded;
      try {
        decoded = await primary.decode();
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
