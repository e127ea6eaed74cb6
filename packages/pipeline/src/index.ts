export * from './stage.js';
export * from './stage-graph.js';
export * from './stage-runner.js';
export * from './stage-deadline.js';
export * from './multi-hash.js';
export * from './acquisition.js';
export * from './file-source.js';
export * from './read-once-source.js';
export * from './ingest.stage.js';
export * from './hash.stage.js';
export * from './analyse.stage.js';
export { identifyStep } from './identify.step.js';
export { metadataStep } from './metadata.step.js';
export { thumbnailStep } from './thumbnail.step.js';
export * from './index.stage.js';
export * from './completion.js';
export * from './dead-letter.js';
export { runPdqBackfill, type PdqBackfillDeps, type PdqBackfillProgress } from './pdq-backfill.js';
export { unpackStage, UNPACK_BATCH_SIZE } from './unpack.stage.js';
export type { ArchiveEntry, ArchiveFormat, ArchiveReader } from './archive/archive-reader.js';
export { openArchive, detectArchiveFormat, type OpenArchiveOptions } from './archive/open-archive.js';
export { merkleRoot, MerkleAccumulator } from './archive/merkle-root.js';
export { analyseEntryName, type EntryNameAnalysis } from './archive/entry-name.js';
export type { ByteSource, DiskVolume, FileSystemEntry, FileSystemReader, FileSystemType } from './disk/disk-reader.types.js';
export { FileByteSource, BlobByteSource, SliceByteSource } from './disk/byte-source.js';
export {
  openDiskImage,
  fileSystems,
  detectContainer,
  hashMedia,
  verifyStoredHashes,
  incompleteMediaDetail,
  storesHashes,
  FILE_SYSTEMS,
  type DiskImage,
  type ContainerFormat,
  type FileSystemModule,
  type OpenedFileSystem,
  type StoredHashCheck,
} from './disk/open-disk-image.js';
export type { EwfHeader, EwfStoredHashes } from './disk/ewf-image.container.js';
export { isVolumeNote, type VolumeProblem } from './disk/volume-system.reader.js';
export { IMAGE_SEGMENTS_METADATA, orderSegmentFiles, parseSegmentName, segmentSets, type SegmentName } from './disk/image-segments.js';
