/** Just enough JPEG marker walking to edit the headers of files we made ourselves. */

export interface JpegSegment {
  marker: number;
  /** Offset of the 0xFF that starts the marker. */
  offset: number;
  /** Bytes of the whole segment: marker, length field and payload. */
  length: number;
}

/** Segments from SOI up to and including SOS; entropy-coded data follows the SOS segment. */
export function headerSegments(jpeg: Buffer): JpegSegment[] {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG: no SOI marker');
  const segments: JpegSegment[] = [{ marker: 0xd8, offset: 0, length: 2 }];
  let at = 2;
  while (at + 4 <= jpeg.length) {
    if (jpeg[at] !== 0xff) throw new Error(`expected a marker at ${at}`);
    const marker = jpeg[at + 1]!;
    const length = 2 + jpeg.readUInt16BE(at + 2);
    segments.push({ marker, offset: at, length });
    if (marker === 0xda) return segments;
    at += length;
  }
  throw new Error('no SOS marker before the end of the file');
}

export function exifSegment(jpeg: Buffer): JpegSegment {
  const seg = headerSegments(jpeg).find(
    (s) => s.marker === 0xe1 && jpeg.toString('latin1', s.offset + 4, s.offset + 10) === 'Exif\0\0',
  );
  if (!seg) throw new Error('no EXIF APP1 segment');
  return seg;
}
