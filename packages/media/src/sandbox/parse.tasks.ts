/** Inputs and outputs of the parser thread's tasks (parse.worker.ts), shared by both sides. */

export interface RangeRequest {
  offset: number;
  length: number;
}

export interface ExifrTaskInput {
  name: string;
  size: number;
  options: object;
  maxBytes: number;
}

export interface ExifrTaskOutput {
  /** exifr's output, structured-cloned. */
  output: Record<string, unknown> | undefined;
  /** exifr asked for bytes past `maxBytes`. */
  limitReached: boolean;
  /** What exifr's parsers said went wrong while reading (exifrMessages): a partial read, never hidden. */
  messages: string[];
}

export interface IdentifyInput {
  name: string;
  size: number;
}

export interface Id3FramesInput {
  name: string;
  size: number;
  /** MEDIA_LIMITS.maxId3Frames: the count stops once past it. */
  limit: number;
}

export interface TrailingDataInput {
  bytes: ArrayBuffer;
}

export interface PixelSizeInput {
  name: string;
  size: number;
  maxBytes: number;
}

export interface ExifPreviewInput {
  name: string;
  size: number;
}

export interface ExifPreviewOutput {
  preview?: ArrayBuffer;
  orientation?: number;
}

export interface FileTypeInput {
  head: ArrayBuffer;
}

export type FileTypeOutput = { mime: string; ext: string } | null;
