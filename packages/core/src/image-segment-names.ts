/**
 * Segment names of a split disk image (`card.E01`, `card.E02` …; `disk.001`,
 * `disk.002` …), from names alone. In core because the API validates a
 * declared segment manifest with them and the pipeline groups received blobs
 * with them (docs/disk-images.md, "Split images").
 */
export interface ImageSegmentName {
  /** Folder and name up to and including the last dot ("case/ev/card."). */
  stem: string;
  /** The extension as written ("E02", "e02", "002"). */
  extension: string;
  kind: 'ewf' | 'raw';
  /** 1 for E01 and .001. */
  number: number;
  /** EWF's letter form after E99 (EAA …), which ordinary extensions (.img, .vhd, .exe) also fit. */
  lettered: boolean;
}

const A = 'A'.charCodeAt(0);

/**
 * The segment a name is, from its extension: EWF `E01`–`E99`, raw `.001`
 * upward (three to six digits); with `lettered`, also EWF's `EAA`–`ZZZ` after
 * E99 (libewf's and EnCase's sequence), which only a set that reached E99 may
 * accept, since `.img`, `.vhd` or `.exe` fit it too.
 */
export function parseImageSegmentName(name: string, options: { lettered?: boolean } = {}): ImageSegmentName | null {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || name.lastIndexOf('/') > dot) return null;
  const stem = name.slice(0, dot + 1);
  const extension = name.slice(dot + 1);
  const upper = extension.toUpperCase();
  let m = /^E(\d\d)$/.exec(upper);
  if (m) {
    const number = Number(m[1]);
    return number >= 1 ? { stem, extension, kind: 'ewf', number, lettered: false } : null;
  }
  m = options.lettered ? /^([E-Z])([A-Z])([A-Z])$/.exec(upper) : null;
  if (m) {
    const [x, y, z] = [m[1]!, m[2]!, m[3]!].map((c) => c.charCodeAt(0) - A) as [number, number, number];
    return { stem, extension, kind: 'ewf', number: 100 + (x - 4) * 676 + y * 26 + z, lettered: true };
  }
  m = /^(\d{3,6})$/.exec(extension);
  if (m) {
    const number = Number(m[1]);
    return number >= 1 ? { stem, extension, kind: 'raw', number, lettered: false } : null;
  }
  return null;
}

/** Names of one set share the stem, the kind and the width of the extension. */
export const imageSegmentSetKey = (s: ImageSegmentName) => `${s.kind}:${s.stem}:${s.extension.length}`;
