/**
 * How `npm run bench:disk` fills its raw ext4 image: mostly photos, some
 * documents, and a few large padding files that take up what the photos do
 * not, so the image is as large as asked whatever the file count. Pure, for
 * unit tests; disk-corpus.builder.ts writes what it plans.
 */

/** Share of the files that are photos; the rest are documents and padding files. */
export const PHOTO_SHARE = 0.9;
/** Share of the file system's content that is photo bytes (the rest: padding, documents). */
export const PHOTO_BYTES_SHARE = 0.85;
/** Content bytes ÷ image bytes: ext4's journal (up to 1 GiB), inode tables and bitmaps take a few per cent of the volume. */
export const CONTENT_SHARE = 0.88;
/** Largest padding file: several, not one huge file, as a card's videos would be. */
export const PADDING_FILE_MAX_BYTES = 256 * 1024 * 1024;
/** Bytes per pixel of the camera painter's JPEG at quality 92 (camera-photo.painter.ts: 12 MP ≈ 4 MB). */
export const JPEG_BYTES_PER_PIXEL = 0.33;
/** Camera photos are no larger than this, however few the files. */
export const PHOTO_MAX_MEGAPIXELS = 24;

export interface DiskCorpusPlan {
  imageBytes: number;
  photos: number;
  documents: number;
  paddingFiles: number;
  /** Size each photo aims at. */
  photoTargetBytes: number;
  /** Of the painted frame that gives photos of about that size. */
  photoMegapixels: number;
  /** All file bytes together aim at this (the padding files make up the difference). */
  contentBudgetBytes: number;
}

export function planDiskCorpus(options: { imageBytes: number; files: number }): DiskCorpusPlan {
  const { imageBytes, files } = options;
  if (!Number.isSafeInteger(imageBytes) || imageBytes < 16 * 1024 * 1024) throw new Error(`the image must be at least 16 MiB, got ${imageBytes} bytes`);
  if (!Number.isSafeInteger(files) || files < 10) throw new Error(`at least 10 files, got ${files}`);
  const contentBudgetBytes = Math.floor(imageBytes * CONTENT_SHARE);
  const paddingBytes = contentBudgetBytes * (1 - PHOTO_BYTES_SHARE);
  const paddingFiles = Math.max(1, Math.ceil(paddingBytes / PADDING_FILE_MAX_BYTES));
  const photos = Math.round(files * PHOTO_SHARE);
  const documents = files - photos - paddingFiles;
  if (documents < 0) throw new Error(`${files} files are too few for ${paddingFiles} padding files and ${photos} photos`);
  const photoTargetBytes = Math.floor((contentBudgetBytes * PHOTO_BYTES_SHARE) / photos);
  const photoMegapixels = Math.min(PHOTO_MAX_MEGAPIXELS, photoTargetBytes / JPEG_BYTES_PER_PIXEL / 1e6);
  return { imageBytes, photos, documents, paddingFiles, photoTargetBytes, photoMegapixels, contentBudgetBytes };
}

/** Where file `i` of a kind lies in the image: folders of 1,000 files, as cameras (DCIM/100CANON…) and exports do. */
export function diskCorpusPath(kind: 'photo' | 'document' | 'padding', i: number): string {
  const folder = Math.floor(i / 1000);
  const n = String(i + 1).padStart(5, '0');
  if (kind === 'photo') return `DCIM/${100 + folder}CANON/IMG_${n}.JPG`;
  if (kind === 'document') return `Documents/${String(folder).padStart(2, '0')}/note-${n}.${['txt', 'csv', 'html', 'json'][i % 4]}`;
  return `Backups/backup-${n}.bin`;
}
