/**
 * PDQ, Meta's 256-bit perceptual hash, computed the way the reference C++
 * implementation (facebook/ThreatExchange pdq/cpp) computes it, bit for bit.
 * Pure: pixels in, hash and quality out; no I/O, no decoder (pdq.pixels.ts
 * turns a file into the pixels the reference would hash).
 *
 * Bit-exactness rests on doing every step in float32, in the reference's
 * order: each sum, product and quotient below is rounded with Math.fround
 * (the reference is built without -ffast-math, so its compiler keeps that
 * order too). docs/pdq.md lists the reference's decoder quirks.
 */

/** 8-bit interleaved pixels: 1 = grey, 2 = grey+alpha, 3 = RGB, 4 = RGBA. Alpha is ignored, as the reference drops it. */
export interface PdqPixels {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

export interface PdqHash {
  /** 64 lowercase hex digits, as the reference prints them. */
  hash: string;
  /** 0–100; below 50 the reference's authors advise not to rely on the hash. */
  quality: number;
}

/**
 * The hashes of the picture's eight rotations and mirrors, derived from one
 * DCT as the reference's --pdqdih does, named and ordered as it prints them.
 * rotate90 is a quarter turn anticlockwise; flipX mirrors top–bottom, flipY
 * left–right, flipPlus1 transposes (checked on the fixtures' turned copies).
 */
export interface PdqDihedral {
  quality: number;
  original: string;
  rotate90: string;
  rotate180: string;
  rotate270: string;
  flipX: string;
  flipY: string;
  flipPlus1: string;
  flipMinus1: string;
}

/** Raised whenever a change could alter any hash or quality this module gives. */
export const PDQ_IMPLEMENTATION_VERSION = '1';

/** The reference squashes anything larger on either side to exactly this square before hashing (pdqio.cpp). */
export const PDQ_SQUASH_EDGE_PX = 512;
/** Either side below this: an all-zero hash with quality 0. */
export const PDQ_MIN_EDGE_PX = 5;

const f = Math.fround;
const LUMA_R = f(0.299);
const LUMA_G = f(0.587);
const LUMA_B = f(0.114);
const JAROSZ_PASSES = 2;

/** 16 × 64 DCT-II basis rows 1..16, float32, built as the reference builds them (float scale × double cosine). */
const DCT = (() => {
  const scale = f(Math.sqrt(2 / 64));
  const matrix = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) matrix[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64) * (i + 1) * (2 * j + 1));
  }
  return matrix;
})();

export function pdqFromPixels(pixels: PdqPixels): PdqHash {
  const dct = dctOfPixels(pixels);
  if (!dct) return { hash: '0'.repeat(64), quality: 0 };
  return { hash: bitsToHex(dct.coefficients), quality: dct.quality };
}

/** The hash of each dihedral transform, from one DCT (the reference's pdq-photo-hasher --pdqdih). */
export function pdqDihedralFromPixels(pixels: PdqPixels): PdqDihedral {
  // The reference's dihedral path filters even an exact 64×64 image.
  const dct = dctOfPixels(pixels, { shortcut64: false });
  if (!dct) {
    const zero = '0'.repeat(64);
    return { quality: 0, original: zero, rotate90: zero, rotate180: zero, rotate270: zero, flipX: zero, flipY: zero, flipPlus1: zero, flipMinus1: zero };
  }
  const a = dct.coefficients;
  // A turn or mirror of the picture transposes and/or negates DCT coefficients by their parity.
  const variant = (transpose: boolean, negate: (i: number, j: number) => boolean) => {
    const out = new Float32Array(256);
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        const v = negate(i, j) ? -a[i * 16 + j]! : a[i * 16 + j]!;
        out[transpose ? j * 16 + i : i * 16 + j] = v;
      }
    }
    return bitsToHex(out);
  };
  return {
    quality: dct.quality,
    original: bitsToHex(a),
    rotate90: variant(true, (_i, j) => (j & 1) === 0),
    rotate180: variant(false, (i, j) => ((i + j) & 1) === 1),
    rotate270: variant(true, (i) => (i & 1) === 0),
    flipX: variant(false, (i) => (i & 1) === 0),
    flipY: variant(false, (_i, j) => (j & 1) === 0),
    flipPlus1: variant(true, () => false),
    flipMinus1: variant(true, (i, j) => ((i + j) & 1) === 1),
  };
}

/** Bits that differ between two hex hashes (0–256). */
export function pdqDistance(a: string, b: string): number {
  const x = pdqHexToBytes(a);
  const y = pdqHexToBytes(b);
  let bits = 0;
  for (let i = 0; i < 32; i++) {
    let v = x[i]! ^ y[i]!;
    while (v) {
      v &= v - 1;
      bits++;
    }
  }
  return bits;
}

const HEX64 = /^[0-9a-f]{64}$/i;

export function isPdqHex(value: string): boolean {
  return HEX64.test(value);
}

/** The 32 bytes of a hash, in the order of its hex digits. */
export function pdqHexToBytes(hex: string): Uint8Array {
  if (!HEX64.test(hex)) throw new RangeError(`a PDQ hash is 64 hex digits, not ${JSON.stringify(hex.slice(0, 80))}`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/**
 * The pixels the reference actually hashes: larger than 512 on either side
 * squashed to 512×512 by CImg's nearest-neighbour rule (output (x, y) takes
 * input (⌊x·W/512⌋, ⌊y·H/512⌋), aspect ratio not kept), then luma in float32.
 * An image whose every pixel has R = G = B comes to the reference as grey
 * (ImageMagick writes such an image as P5), so its luma is the grey value itself.
 */
function lumaOf(pixels: PdqPixels): { luma: Float32Array; rows: number; cols: number } {
  const { width, height, channels, data } = pixels;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 0 || height < 0) throw new RangeError('pixel size must be whole numbers');
  if (data.length !== width * height * channels) throw new RangeError(`expected ${width * height * channels} bytes of pixels, got ${data.length}`);
  const squash = width > PDQ_SQUASH_EDGE_PX || height > PDQ_SQUASH_EDGE_PX;
  const cols = squash ? PDQ_SQUASH_EDGE_PX : width;
  const rows = squash ? PDQ_SQUASH_EDGE_PX : height;
  const grey = channels < 3 || everyPixelGrey(pixels);
  const luma = workArray('luma', rows * cols);
  // Each output column's sample offset within a row, worked out once rather than once per row.
  const columnOffsets = new Int32Array(cols);
  for (let x = 0; x < cols; x++) columnOffsets[x] = (squash ? Math.floor((x * width) / PDQ_SQUASH_EDGE_PX) : x) * channels;
  for (let y = 0; y < rows; y++) {
    const sy = squash ? Math.floor((y * height) / PDQ_SQUASH_EDGE_PX) : y;
    const rowStart = sy * width * channels;
    const out = y * cols;
    for (let x = 0; x < cols; x++) {
      const p = rowStart + columnOffsets[x]!;
      luma[out + x] = grey ? data[p]! : f(f(f(LUMA_R * data[p]!) + f(LUMA_G * data[p + 1]!)) + f(LUMA_B * data[p + 2]!));
    }
  }
  return { luma, rows, cols };
}

/**
 * The hasher's two work planes, kept from one hash to the next instead of two
 * fresh megabytes per image, whose allocation and collection cost more than
 * the arithmetic. At most 512×512 floats each (larger images are squashed
 * first), so 2 MiB per thread. Safe to share: a hash runs start to end without
 * yielding, and every sample of a plane is written before it is read.
 */
const planes: Record<'luma' | 'scratch', Float32Array> = {
  luma: new Float32Array(0),
  scratch: new Float32Array(0),
};

function workArray(name: 'luma' | 'scratch', length: number): Float32Array {
  if (planes[name].length < length) planes[name] = new Float32Array(length);
  return planes[name].subarray(0, length);
}

function everyPixelGrey({ data, channels }: PdqPixels): boolean {
  for (let p = 0; p < data.length; p += channels) {
    if (data[p] !== data[p + 1] || data[p] !== data[p + 2]) return false;
  }
  return true;
}

/** The 16×16 low-frequency DCT coefficients (row-major) and the quality, or null for an image too small to hash. */
function dctOfPixels(pixels: PdqPixels, options: { shortcut64: boolean } = { shortcut64: true }): { coefficients: Float32Array; quality: number } | null {
  const { luma, rows, cols } = lumaOf(pixels);
  if (rows < PDQ_MIN_EDGE_PX || cols < PDQ_MIN_EDGE_PX) return null;
  let block: Float32Array;
  if (options.shortcut64 && rows === 64 && cols === 64) {
    // The reference takes an exact 64×64 image as its 64×64 block, unfiltered.
    block = luma;
  } else {
    const scratch = workArray('scratch', rows * cols);
    const alongRows = jaroszWindow(cols);
    const alongCols = jaroszWindow(rows);
    for (let pass = 0; pass < JAROSZ_PASSES; pass++) {
      boxRows(luma, scratch, rows, cols, alongRows);
      boxColumns(scratch, luma, rows, cols, alongCols);
    }
    block = new Float32Array(64 * 64);
    for (let i = 0; i < 64; i++) {
      const r = Math.trunc(((i + 0.5) * rows) / 64);
      for (let j = 0; j < 64; j++) block[i * 64 + j] = luma[r * cols + Math.trunc(((j + 0.5) * cols) / 64)]!;
    }
  }
  return { coefficients: dct64To16(block), quality: quality(block) };
}

/** Half of the image's 1/64th, rounded up: two passes of two box filters make a tent over one output cell. */
function jaroszWindow(edge: number): number {
  return Math.trunc((edge + 127) / 128);
}

/**
 * The four phases of a box filter's walk along a line of `length` samples: the
 * sum is primed (lead), the window grows to full size with outputs (grow),
 * slides (full), then shrinks at the end (tail), as the reference walks it.
 */
function boxPhases(length: number, window: number): { lead: number; grow: number; full: number; tail: number } {
  const half = Math.trunc((window + 2) / 2);
  return { lead: half - 1, grow: window - half + 1, full: length - window, tail: half - 1 };
}

/**
 * A running-sum box filter along one line of `length` samples `stride` apart,
 * from `start`. The window is centred (its larger half ahead) and shrinks at
 * both ends; the sum is updated, never recomputed, exactly as the reference does.
 */
function box1d(input: Float32Array, output: Float32Array, start: number, length: number, stride: number, window: number): void {
  const { lead, grow, full, tail } = boxPhases(length, window);
  let li = start;
  let ri = start;
  let oi = start;
  let sum = 0;
  let size = 0;
  for (let n = 0; n < lead; n++, ri += stride, size++) sum = f(sum + input[ri]!);
  for (let n = 0; n < grow; n++, ri += stride, oi += stride) {
    sum = f(sum + input[ri]!);
    size++;
    output[oi] = sum / size;
  }
  for (let n = 0; n < full; n++, li += stride, ri += stride, oi += stride) {
    sum = f(sum + input[ri]!);
    sum = f(sum - input[li]!);
    output[oi] = sum / size;
  }
  for (let n = 0; n < tail; n++, li += stride, oi += stride) {
    sum = f(sum - input[li]!);
    size--;
    output[oi] = sum / size;
  }
}

/**
 * box1d along every row, four rows at a time: each row's running sum goes
 * through exactly the float32 additions, subtractions and divisions, in the
 * same order, that box1d(input, output, r * cols, cols, 1, window) gives it,
 * so the result is the same bit for bit. Four independent sums let the CPU
 * overlap them; one row's sum alone waits on each of its own roundings.
 */
function boxRows(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const { lead, grow, full, tail } = boxPhases(cols, window);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const a = r * cols;
    const b = a + cols;
    const c = b + cols;
    const d = c + cols;
    let sa = 0;
    let sb = 0;
    let sc = 0;
    let sd = 0;
    let li = 0;
    let ri = 0;
    let oi = 0;
    let size = 0;
    for (let n = 0; n < lead; n++, ri++, size++) {
      sa = f(sa + input[a + ri]!);
      sb = f(sb + input[b + ri]!);
      sc = f(sc + input[c + ri]!);
      sd = f(sd + input[d + ri]!);
    }
    for (let n = 0; n < grow; n++, ri++, oi++) {
      sa = f(sa + input[a + ri]!);
      sb = f(sb + input[b + ri]!);
      sc = f(sc + input[c + ri]!);
      sd = f(sd + input[d + ri]!);
      size++;
      output[a + oi] = sa / size;
      output[b + oi] = sb / size;
      output[c + oi] = sc / size;
      output[d + oi] = sd / size;
    }
    for (let n = 0; n < full; n++, li++, ri++, oi++) {
      sa = f(f(sa + input[a + ri]!) - input[a + li]!);
      sb = f(f(sb + input[b + ri]!) - input[b + li]!);
      sc = f(f(sc + input[c + ri]!) - input[c + li]!);
      sd = f(f(sd + input[d + ri]!) - input[d + li]!);
      output[a + oi] = sa / size;
      output[b + oi] = sb / size;
      output[c + oi] = sc / size;
      output[d + oi] = sd / size;
    }
    for (let n = 0; n < tail; n++, li++, oi++) {
      sa = f(sa - input[a + li]!);
      sb = f(sb - input[b + li]!);
      sc = f(sc - input[c + li]!);
      sd = f(sd - input[d + li]!);
      size--;
      output[a + oi] = sa / size;
      output[b + oi] = sb / size;
      output[c + oi] = sc / size;
      output[d + oi] = sd / size;
    }
  }
  for (; r < rows; r++) box1d(input, output, r * cols, cols, 1, window);
}

/**
 * box1d down every column at once, a row at a time: each column's running sum
 * goes through exactly the same float32 additions, subtractions and divisions
 * in the same order as box1d(input, output, c, rows, cols, window) would give
 * it, so the result is the same bit for bit; only the memory is walked along
 * rows instead of across them (the column-by-column walk touched a new cache
 * line for every sample).
 */
function boxColumns(input: Float32Array, output: Float32Array, rows: number, cols: number, window: number): void {
  const { lead, grow, full, tail } = boxPhases(rows, window);
  // Float32Array: each store rounds to float32, as f() does in box1d.
  const sums = new Float32Array(cols);
  let li = 0;
  let ri = 0;
  let oi = 0;
  let size = 0;
  for (let n = 0; n < lead; n++, ri += cols, size++) for (let c = 0; c < cols; c++) sums[c] = sums[c]! + input[ri + c]!;
  for (let n = 0; n < grow; n++, ri += cols, oi += cols) {
    size++;
    for (let c = 0; c < cols; c++) {
      const sum = f(sums[c]! + input[ri + c]!);
      sums[c] = sum;
      output[oi + c] = sum / size;
    }
  }
  for (let n = 0; n < full; n++, li += cols, ri += cols, oi += cols) {
    for (let c = 0; c < cols; c++) {
      const sum = f(f(sums[c]! + input[ri + c]!) - input[li + c]!);
      sums[c] = sum;
      output[oi + c] = sum / size;
    }
  }
  for (let n = 0; n < tail; n++, li += cols, oi += cols) {
    size--;
    for (let c = 0; c < cols; c++) {
      const sum = f(sums[c]! - input[li + c]!);
      sums[c] = sum;
      output[oi + c] = sum / size;
    }
  }
}

/** Sum of significant gradients between neighbouring cells of the 64×64 block, scaled to 0–100. */
function quality(block: Float32Array): number {
  let gradients = 0;
  const step = (u: number, v: number) => Math.abs(Math.trunc(f(f(f(u - v) * 100) / 255)));
  for (let i = 0; i < 63; i++) for (let j = 0; j < 64; j++) gradients += step(block[i * 64 + j]!, block[(i + 1) * 64 + j]!);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 63; j++) gradients += step(block[i * 64 + j]!, block[i * 64 + j + 1]!);
  return Math.min(100, Math.trunc(gradients / 90));
}

/** D · A · Dᵀ for the 16 lowest non-DC frequencies each way, summed in the reference's order. */
function dct64To16(a: Float32Array): Float32Array {
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 64; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f(sum + f(DCT[i * 64 + k]! * a[k * 64 + j]!));
      t[i * 64 + j] = sum;
    }
  }
  const b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f(sum + f(t[i * 64 + k]! * DCT[j * 64 + k]!));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

/**
 * One bit per coefficient above the median. Bit i·16+j lives in 16-bit word i
 * at bit j; the reference prints word 15 first, each as four hex digits.
 */
function bitsToHex(coefficients: Float32Array): string {
  const median = torbenMedian(coefficients);
  const words = new Uint16Array(16);
  for (let k = 0; k < 256; k++) if (coefficients[k]! > median) words[k >> 4]! |= 1 << (k & 15);
  let hex = '';
  for (let w = 15; w >= 0; w--) hex += words[w]!.toString(16).padStart(4, '0');
  return hex;
}

/** Torben's bisection median (the reference's torben.cpp), in float32; for an even count it gives the lower middle. */
function torbenMedian(m: Float32Array): number {
  const n = m.length;
  const half = Math.trunc((n + 1) / 2);
  let min = m[0]!;
  let max = m[0]!;
  for (const v of m) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  for (;;) {
    const guess = f(f(min + max) / 2);
    let less = 0;
    let greater = 0;
    let equal = 0;
    let maxBelow = min;
    let minAbove = max;
    for (const v of m) {
      if (v < guess) {
        less++;
        if (v > maxBelow) maxBelow = v;
      } else if (v > guess) {
        greater++;
        if (v < minAbove) minAbove = v;
      } else equal++;
    }
    if (less <= half && greater <= half) {
      if (less >= half) return maxBelow;
      if (less + equal >= half) return guess;
      return minAbove;
    }
    if (less > greater) max = maxBelow;
    else min = minAbove;
  }
}
