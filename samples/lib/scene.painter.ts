/**
 * Paints simple, visually distinct scenes as raw RGB pixels with integer
 * arithmetic only. Rasterising SVG would pull in librsvg/cairo anti-aliasing
 * (floating point, fonts) and make the pixels depend on the machine; integers
 * make the encoder's input identical everywhere, so only the encoder decides
 * the output bytes.
 */

export type Rgb = readonly [number, number, number];

export interface Scene {
  width: number;
  height: number;
  /** Top and bottom colours of the background gradient. */
  sky: Rgb;
  ground: Rgb;
  /** A filled disc, so orientation and thumbnails are easy to judge by eye. */
  sun: { colour: Rgb; xPct: number; yPct: number; radiusPct: number };
  /** Seeds the skyline of blocks. */
  seed: number;
  blockColour: Rgb;
  /** Printed large in the top-left corner (digits, '-' and space only). */
  label: string;
  labelColour: Rgb;
}

export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

/** 3x5 bitmap glyphs, rows top to bottom, '#' = ink. */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  '0': ['###', '#.#', '#.#', '#.#', '###'],
  '1': ['.#.', '##.', '.#.', '.#.', '###'],
  '2': ['###', '..#', '###', '#..', '###'],
  '3': ['###', '..#', '###', '..#', '###'],
  '4': ['#.#', '#.#', '###', '..#', '..#'],
  '5': ['###', '#..', '###', '..#', '###'],
  '6': ['###', '#..', '###', '#.#', '###'],
  '7': ['###', '..#', '..#', '..#', '..#'],
  '8': ['###', '#.#', '###', '#.#', '###'],
  '9': ['###', '#.#', '###', '..#', '###'],
  '-': ['...', '...', '###', '...', '...'],
  ' ': ['...', '...', '...', '...', '...'],
};

/** A 32-bit xorshift generator: deterministic and identical on every platform. */
function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state;
  };
}

export function paintScene(scene: Scene): RawImage {
  const { width, height } = scene;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
    throw new RangeError(`scene size must be integers of at least 16 px, got ${width}x${height}`);
  }
  const data = Buffer.alloc(width * height * 3);
  const set = (x: number, y: number, c: Rgb) => {
    const i = (y * width + x) * 3;
    data[i] = c[0];
    data[i + 1] = c[1];
    data[i + 2] = c[2];
  };

  for (let y = 0; y < height; y++) {
    const c: Rgb = [0, 1, 2].map((k) =>
      Math.floor((scene.sky[k]! * (height - 1 - y) + scene.ground[k]! * y) / (height - 1)),
    ) as unknown as Rgb;
    for (let x = 0; x < width; x++) set(x, y, c);
  }

  const cx = Math.floor((width * scene.sun.xPct) / 100);
  const cy = Math.floor((height * scene.sun.yPct) / 100);
  const r = Math.floor((Math.min(width, height) * scene.sun.radiusPct) / 100);
  for (let y = Math.max(0, cy - r); y <= Math.min(height - 1, cy + r); y++) {
    for (let x = Math.max(0, cx - r); x <= Math.min(width - 1, cx + r); x++) {
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) set(x, y, scene.sun.colour);
    }
  }

  // A skyline of blocks along the bottom third.
  const next = xorshift32(scene.seed);
  const blockW = Math.max(4, Math.floor(width / 12));
  for (let x0 = 0; x0 < width; x0 += blockW) {
    const h = Math.floor((height * (10 + (next() % 25))) / 100);
    const shade = (next() % 40) - 20;
    const c: Rgb = scene.blockColour.map((v) => Math.min(255, Math.max(0, v + shade))) as unknown as Rgb;
    for (let y = height - h; y < height; y++) {
      for (let x = x0; x < Math.min(width, x0 + blockW - 2); x++) set(x, y, c);
    }
  }

  const cell = Math.max(2, Math.floor(height / 24));
  let penX = cell * 2;
  for (const ch of scene.label) {
    const glyph = GLYPHS[ch];
    if (!glyph) throw new RangeError(`no glyph for ${JSON.stringify(ch)} in label ${JSON.stringify(scene.label)}`);
    glyph.forEach((row, gy) => {
      [...row].forEach((ink, gx) => {
        if (ink !== '#') return;
        for (let y = cell * 2 + gy * cell; y < cell * 2 + (gy + 1) * cell && y < height; y++) {
          for (let x = penX + gx * cell; x < penX + (gx + 1) * cell && x < width; x++) set(x, y, scene.labelColour);
        }
      });
    });
    penX += cell * 4;
  }

  return { data, width, height, channels: 3 };
}
