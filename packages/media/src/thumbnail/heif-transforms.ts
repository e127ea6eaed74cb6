/**
 * The display transforms a HEIF file gives its primary image (ISO/IEC
 * 23008-12 `irot` rotation and `imir` mirror properties, associated through
 * `ipma`), read from the `meta` box of bytes held in memory. libheif applies
 * them while decoding; this says whether there were any, so the EXIF
 * orientation can be weighed against them (docs/architecture.md, "Identification, findings and orientation").
 *
 * Pure and bounded: boxes are walked by their sizes inside the buffer, at
 * most MAX_BOXES of them; anything malformed gives null ("unknown").
 */

import { boxes, child, type Box } from './heif-boxes.js';

const MAX_BOXES = 4096;

export interface HeifTransforms {
  /** Anticlockwise rotation in degrees (irot), 0 if none. */
  rotationCcw: 0 | 90 | 180 | 270;
  /** imir axis (0: vertical axis, i.e. left-right; 1: horizontal axis), null if none. */
  mirrorAxis: 0 | 1 | null;
}

/** The primary image's transforms, or null when the bytes are not a HEIF whose meta box can be read. */
export function heifTransforms(b: Buffer): HeifTransforms | null {
  const budget = { left: MAX_BOXES };
  let meta: Box | undefined;
  for (const box of boxes(b, 0, b.length, budget)) {
    if (box.type === 'meta') {
      meta = box;
      break;
    }
  }
  if (!meta) return null;
  // meta is a FullBox: 4 bytes of version and flags before its children.
  const pitm = child(b, meta, 'pitm', budget, 4);
  const iprp = child(b, meta, 'iprp', budget, 4);
  if (!pitm || !iprp || pitm.body + 6 > pitm.end) return null;
  const pitmVersion = b[pitm.body]!;
  const primary = pitmVersion === 0 ? b.readUInt16BE(pitm.body + 4) : pitm.body + 8 <= pitm.end ? b.readUInt32BE(pitm.body + 4) : -1;
  if (primary < 0) return null;
  const ipco = child(b, iprp, 'ipco', budget);
  if (!ipco) return null;
  const properties = [...boxes(b, ipco.body, ipco.end, budget)];

  const transforms: HeifTransforms = { rotationCcw: 0, mirrorAxis: null };
  for (const ipma of boxes(b, iprp.body, iprp.end, budget)) {
    if (ipma.type !== 'ipma' || ipma.body + 8 > ipma.end) continue;
    const version = b[ipma.body]!;
    const wideIndex = (b[ipma.body + 3]! & 1) === 1;
    let o = ipma.body + 4;
    const entries = b.readUInt32BE(o);
    o += 4;
    for (let e = 0; e < entries && o < ipma.end; e++) {
      const idBytes = version < 1 ? 2 : 4;
      if (o + idBytes + 1 > ipma.end) return null;
      const item = idBytes === 2 ? b.readUInt16BE(o) : b.readUInt32BE(o);
      o += idBytes;
      const count = b[o]!;
      o += 1;
      for (let a = 0; a < count; a++) {
        if (o + (wideIndex ? 2 : 1) > ipma.end) return null;
        const index = wideIndex ? b.readUInt16BE(o) & 0x7fff : b[o]! & 0x7f;
        o += wideIndex ? 2 : 1;
        if (item !== primary || index === 0) continue;
        const property = properties[index - 1];
        if (!property || property.body >= property.end) continue;
        if (property.type === 'irot') transforms.rotationCcw = (((b[property.body]! & 0x03) * 90) as HeifTransforms['rotationCcw']);
        if (property.type === 'imir') transforms.mirrorAxis = (b[property.body]! & 0x01) as 0 | 1;
      }
    }
  }
  return transforms;
}

/**
 * The EXIF orientation (1-8) that shows the same as the HEIF transforms, so
 * the two can be compared. irot turns anticlockwise; EXIF 6 means "turn 90°
 * clockwise to display", which is irot 270. Mirrors: imir axis 0 (a vertical
 * axis: left and right swap) is applied after the rotation.
 */
export function orientationOfTransforms(t: HeifTransforms): number {
  const byRotation: Record<HeifTransforms['rotationCcw'], number> = { 0: 1, 90: 8, 180: 3, 270: 6 };
  if (t.mirrorAxis === null) return byRotation[t.rotationCcw];
  // Rotation then a left-right mirror; a top-bottom mirror is a left-right one turned 180°.
  const flopAfter: Record<HeifTransforms['rotationCcw'], number> = { 0: 2, 90: 7, 180: 4, 270: 5 };
  const rotation = t.mirrorAxis === 0 ? t.rotationCcw : (((t.rotationCcw + 180) % 360) as HeifTransforms['rotationCcw']);
  return flopAfter[rotation];
}
