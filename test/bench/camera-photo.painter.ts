/**
 * Raw RGB pixels whose JPEG behaves like a camera photo: smooth gradients and
 * waves (what JPEG compresses well), tiles of fine texture (edges) and
 * per-pixel sensor noise (what it cannot compress). At quality 92 a 12-MP
 * frame encodes to roughly 3.5–4.5 MB, the size of a phone photo, so the
 * pipeline moves and decodes as many bytes as it would on a real extraction.
 */

export interface PaintedPhoto {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

/** 4:3 frame of about `megapixels`, both sides a multiple of 8 as camera sensors are (12 MP: 4000x3000). */
export function frameFor(megapixels: number): { width: number; height: number } {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3) / 8) * 8;
  return { width, height: Math.round((width * 3) / 4 / 8) * 8 };
}

/** Deterministic for a given seed: the same corpus on every machine. */
export function paintCameraPhoto(seed: number, width: number, height: number): PaintedPhoto {
  // xorshift32: fast and good enough for noise; Math.random would make the corpus unrepeatable.
  let state = Math.imul(seed + 1, 2654435761) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  // Sensor noise differs a little between shots (ISO), so sizes spread like a real camera roll.
  const noiseAmplitude = 16 + (next() % 8);
  const textureAmplitude = 20 + (next() % 16);
  const waveX = 1 + (next() % 5);
  const waveY = 1 + (next() % 4);
  const tileShift = 6 + (next() % 2);
  const top = [60 + (next() % 120), 60 + (next() % 120), 60 + (next() % 120)];
  const bottom = [60 + (next() % 120), 60 + (next() % 120), 60 + (next() % 120)];

  const column = new Int16Array(width);
  for (let x = 0; x < width; x++) column[x] = Math.round(40 * Math.sin((x / width) * Math.PI * waveX + seed));
  const row = new Int16Array(height * 3);
  for (let y = 0; y < height; y++) {
    const t = y / height;
    const wave = 40 * Math.cos(t * Math.PI * waveY + seed * 0.7);
    for (let c = 0; c < 3; c++) row[y * 3 + c] = Math.round(top[c]! * (1 - t) + bottom[c]! * t + wave);
  }
  // A table of triangular noise indexed by random bits: one generator call per pixel instead of three.
  const noise = new Int8Array(65536);
  for (let i = 0; i < noise.length; i++) {
    const r = next();
    noise[i] = Math.round(((((r & 0xff) + ((r >>> 8) & 0xff)) / 2 - 128) * noiseAmplitude) / 128);
  }

  // Uint8ClampedArray clamps to 0..255 on write, which keeps the inner loop free of branches.
  const out = new Uint8ClampedArray(width * height * 3);
  let p = 0;
  for (let y = 0; y < height; y++) {
    const r0 = row[y * 3]!;
    const r1 = row[y * 3 + 1]!;
    const r2 = row[y * 3 + 2]!;
    const tileRow = (y >> tileShift) + seed;
    for (let x = 0; x < width; x++) {
      const r = next();
      const texture = ((x >> tileShift) + tileRow) % 3 === 0 && (x * 7 + y * 3) % 23 < 11 ? textureAmplitude : 0;
      const light = column[x]! + texture;
      out[p++] = r0 + light + noise[r & 0xffff]!;
      out[p++] = r1 + light + noise[r >>> 16]!;
      out[p++] = r2 + light + noise[(r >>> 8) & 0xffff]!;
    }
  }
  return { data: Buffer.from(out.buffer, out.byteOffset, out.byteLength), width, height, channels: 3 };
}
