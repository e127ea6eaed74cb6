import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTool } from './tools.js';

/**
 * HEIC from a JPEG with heif-enc, which carries the JPEG's EXIF block over
 * as the HEIF 'Exif' item. The JPEG should be near-lossless (quality 95+):
 * it is only the carrier of pixels and EXIF.
 */
export async function encodeHeic(jpeg: Buffer, options: { heifEnc: string; quality: number }): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'exhibit-heic-'));
  try {
    const input = path.join(dir, 'in.jpg');
    const output = path.join(dir, 'out.heic');
    await writeFile(input, jpeg);
    await runTool(options.heifEnc, ['-q', String(options.quality), '-o', output, input], { timeoutMs: 120_000 });
    return normaliseIloc(await readFile(output));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface Box {
  type: string;
  start: number;
  /** First byte after the box header. */
  body: number;
  end: number;
}

function boxes(file: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let at = from;
  while (at + 8 <= to) {
    const size = file.readUInt32BE(at);
    if (size < 8 || at + size > to) throw new Error(`unexpected box size ${size} at ${at}`);
    out.push({ type: file.toString('latin1', at + 4, at + 8), start: at, body: at + 8, end: at + size });
    at += size;
  }
  return out;
}

/**
 * libheif records item locations as base_offset + extent_offset 0; Apple
 * devices write base_offset 0 and the position in extent_offset. Both are
 * valid, but exifr 7 ignores base_offset and then cannot find the EXIF
 * item, so the sample is rewritten into the layout phones produce. Same field
 * sizes, so nothing else in the file moves.
 */
export function normaliseIloc(heic: Buffer): Buffer {
  const out = Buffer.from(heic);
  const meta = boxes(out, 0, out.length).find((b) => b.type === 'meta');
  if (!meta) throw new Error('HEIC has no meta box');
  const iloc = boxes(out, meta.body + 4, meta.end).find((b) => b.type === 'iloc');
  if (!iloc) throw new Error('HEIC has no iloc box');

  const version = out[iloc.body]!;
  let at = iloc.body + 4;
  const offsetSize = out[at]! >> 4;
  const lengthSize = out[at]! & 0xf;
  const baseOffsetSize = out[at + 1]! >> 4;
  const indexSize = version === 0 ? 0 : out[at + 1]! & 0xf;
  at += 2;
  if (baseOffsetSize === 0) return out;
  if (version > 1 || offsetSize !== 4 || baseOffsetSize !== 4) {
    throw new Error(`unexpected iloc layout v${version} offset=${offsetSize} base=${baseOffsetSize}: update normaliseIloc`);
  }
  const itemCount = out.readUInt16BE(at);
  at += 2;
  for (let i = 0; i < itemCount; i++) {
    at += 2; // item_ID
    if (version === 1) {
      const constructionMethod = out.readUInt16BE(at) & 0xf;
      if (constructionMethod !== 0) throw new Error('iloc item not stored in the file: update normaliseIloc');
      at += 2;
    }
    at += 2; // data_reference_index
    const baseAt = at;
    const base = out.readUInt32BE(baseAt);
    at += 4;
    const extentCount = out.readUInt16BE(at);
    at += 2;
    for (let e = 0; e < extentCount; e++) {
      at += indexSize;
      out.writeUInt32BE(out.readUInt32BE(at) + base, at);
      at += offsetSize + lengthSize;
    }
    out.writeUInt32BE(0, baseAt);
  }
  return out;
}
