import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { evidenceBlobName, ExhibitError, type AcquisitionInfo, type Hashes } from '@exhibit/core';
import { IMAGE_SEGMENTS_METADATA, ParallelHasher } from '@exhibit/pipeline';
import { acquisitionMetadata, hashMismatches, type HashComparison } from './acquisition-metadata.js';
import type { BlockBlobStore, BlockBlobTarget } from './block-blob-target.port.js';
import { blockId, MAX_BLOCKS_PER_BLOB } from './block-id.js';

export const UPLOAD_LIMITS = {
  /** Smallest block; small blocks only make sense for tests and slow links. */
  minBlockBytes: 64 * 1024,
  /** Largest block we hold in memory (Azure allows 4000 MiB; memory is parallel x block). */
  maxBlockBytes: 256 * 1024 * 1024,
  defaultBlockBytes: 8 * 1024 * 1024,
  maxParallel: 32,
  defaultParallel: 4,
} as const;

/** Evidence is stored as bytes; the pipeline identifies the type from the content, never from the name. */
export const EVIDENCE_CONTENT_TYPE = 'application/octet-stream';

export interface UploadProgress {
  fileName: string;
  totalBytes: number;
  /** Bytes read and hashed locally. */
  bytesRead: number;
  /** Bytes stored in staged blocks, whether sent now or reused from an earlier attempt. */
  bytesStaged: number;
  /** Bytes sent in this run (staged minus reused). */
  bytesSent: number;
  blocksTotal: number;
  blocksStaged: number;
  blocksReused: number;
}

export interface UploadFileOptions {
  /** The evidence container (config.containers.evidence). */
  container: string;
  caseId: string;
  evidenceId: string;
  /** Examiner, exhibit reference, description and any hashes declared at acquisition. */
  acquisition: AcquisitionInfo;
  /** Bytes per block; the default is raised when the file would need more blocks than Azure allows. */
  blockSizeBytes?: number;
  /** Blocks in flight; memory use is bounded by parallel x block size. */
  parallel?: number;
  /** The first segment of a split disk image: how many segments the upload holds (blob metadata `imagesegments`). */
  imageSegments?: number;
  onProgress?: (progress: UploadProgress) => void;
  abortSignal?: AbortSignal;
}

export interface UploadResult {
  blobName: string;
  fileName: string;
  size: number;
  blockSizeBytes: number;
  blocks: number;
  /** Blocks an earlier interrupted attempt had already staged with the same id and size. */
  reusedBlocks: number;
  uploadedBytes: number;
  /** Computed from the bytes read in this run. */
  hashes: Hashes;
  /** What was recorded in the blob metadata. */
  metadata: Record<string, string>;
  etag: string;
  versionId: string | null;
}

export interface UploadPlan {
  fileName: string;
  blobName: string;
  size: number;
  blockSizeBytes: number;
  blocks: number;
}

/** Said when an upload stops on Ctrl-C; the command prints it after the file's path. */
const INTERRUPTED = 'interrupted; run the same command again to resume the upload';

/**
 * Where a file goes and how it is cut into blocks. The plan depends only on
 * the ids, the file name and size and the requested block size, so a rerun
 * after an interruption cuts the file the same way and can reuse blocks.
 */
export function planUpload(filePath: string, size: number, options: { caseId: string; evidenceId: string; blockSizeBytes?: number }): UploadPlan {
  const fileName = path.basename(filePath);
  if (fileName === '' || fileName === '.' || fileName === '..') throw new ExhibitError('invalid-argument', 'not a file name');
  const blobName = evidenceBlobName(options.caseId, options.evidenceId, fileName);
  let blockSizeBytes = options.blockSizeBytes ?? UPLOAD_LIMITS.defaultBlockBytes;
  if (!Number.isInteger(blockSizeBytes) || blockSizeBytes < UPLOAD_LIMITS.minBlockBytes || blockSizeBytes > UPLOAD_LIMITS.maxBlockBytes) {
    throw new ExhibitError(
      'invalid-argument',
      `block size must be a whole number of bytes from ${UPLOAD_LIMITS.minBlockBytes} to ${UPLOAD_LIMITS.maxBlockBytes}, got ${blockSizeBytes}`,
    );
  }
  const needed = Math.ceil(size / MAX_BLOCKS_PER_BLOB);
  if (needed > blockSizeBytes) {
    if (options.blockSizeBytes !== undefined || needed > UPLOAD_LIMITS.maxBlockBytes) {
      throw new ExhibitError(
        'invalid-argument',
        `a file of ${size} bytes needs blocks of at least ${needed} bytes to stay within ${MAX_BLOCKS_PER_BLOB} blocks`,
      );
    }
    const mib = 1024 * 1024;
    blockSizeBytes = Math.ceil(needed / mib) * mib;
  }
  return { fileName, blobName, size, blockSizeBytes, blocks: Math.ceil(size / blockSizeBytes) };
}

/**
 * Uploads one evidence file as a block blob, hashing MD5, SHA-1 and SHA-256
 * in the same pass that reads the blocks. Nothing is committed unless every
 * block is staged and any hash the examiner gave matches; the commit never
 * overwrites an existing blob. Blocks staged by an earlier interrupted run
 * (same id, hence same index and bytes, and same size) are not sent again.
 */
export async function uploadEvidenceFile(
  blobs: BlockBlobStore,
  filePath: string,
  options: UploadFileOptions,
): Promise<UploadResult> {
  const parallel = options.parallel ?? UPLOAD_LIMITS.defaultParallel;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > UPLOAD_LIMITS.maxParallel) {
    throw new ExhibitError('invalid-argument', `parallel must be an integer from 1 to ${UPLOAD_LIMITS.maxParallel}, got ${parallel}`);
  }
  const abortSignal = options.abortSignal;
  if (abortSignal?.aborted) throw new ExhibitError('aborted', 'interrupted before the upload started');

  const file = await openRegularFile(filePath);
  // MD5/SHA-1/SHA-256 of the file run in the hash threads while this thread reads and sends blocks.
  const hasher = new ParallelHasher();
  try {
    const before = await file.stat();
    const plan = planUpload(filePath, before.size, options);
    const target = blobs.target(options.container, plan.blobName);
    // Fail before reading a byte, not after uploading a terabyte; the commit condition still guards the race.
    if (await target.exists({ abortSignal })) {
      throw new ExhibitError('conflict', `${target.displayName} already exists; evidence is never overwritten`);
    }
    const staged = await target.uncommittedBlocks({ abortSignal });

    const progress: UploadProgress = {
      fileName: plan.fileName,
      totalBytes: plan.size,
      bytesRead: 0,
      bytesStaged: 0,
      bytesSent: 0,
      blocksTotal: plan.blocks,
      blocksStaged: 0,
      blocksReused: 0,
    };
    const report = () => options.onProgress?.({ ...progress });
    report();

    const { ids, hashes, uploadedBytes } = await stageAllBlocks(hasher, target, file, plan, staged, parallel, progress, report, abortSignal);

    const after = await file.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new ExhibitError('precondition-failed', 'the file changed while it was being read; nothing was committed');
    }
    const mismatches = hashMismatches(options.acquisition, hashes);
    if (mismatches.length > 0) {
      throw new ExhibitError('hash-mismatch', describeMismatches(mismatches), {
        details: { fileName: plan.fileName, mismatches },
      });
    }

    const metadata = acquisitionMetadata(options.acquisition, hashes);
    if (options.imageSegments !== undefined) metadata[IMAGE_SEGMENTS_METADATA] = String(options.imageSegments);
    const committed = await target.commit(ids, {
      metadata,
      contentType: EVIDENCE_CONTENT_TYPE,
      contentMd5: Buffer.from(hashes.md5, 'hex'),
      abortSignal,
    });
    return {
      blobName: plan.blobName,
      fileName: plan.fileName,
      size: plan.size,
      blockSizeBytes: plan.blockSizeBytes,
      blocks: plan.blocks,
      reusedBlocks: progress.blocksReused,
      uploadedBytes,
      hashes,
      metadata,
      etag: committed.etag,
      versionId: committed.versionId,
    };
  } finally {
    // After a failure the hashing job is still open in the threads: free its contexts.
    hasher.dispose();
    await file.close();
  }
}

/**
 * Reads blocks in order (so the file hashes are computed in one sequential
 * pass) and stages up to `parallel` of them at once. A slot is taken before a
 * block is read, so at most `parallel` block buffers exist at any time.
 */
async function stageAllBlocks(
  hasher: ParallelHasher,
  target: BlockBlobTarget,
  file: FileHandle,
  plan: UploadPlan,
  staged: Map<string, number>,
  parallel: number,
  progress: UploadProgress,
  report: () => void,
  outerSignal: AbortSignal | undefined,
): Promise<{ ids: string[]; hashes: Hashes; uploadedBytes: number }> {
  const ids: string[] = [];
  const free: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  // One failed block stops the others; the caller's signal stops everything.
  const stop = new AbortController();
  const signal = outerSignal ? AbortSignal.any([outerSignal, stop.signal]) : stop.signal;
  let failure: unknown;

  const fail = (err: unknown) => {
    if (failure === undefined) failure = err;
    stop.abort(err);
  };

  for (let index = 0; index < plan.blocks && failure === undefined; index++) {
    while (inFlight.size >= parallel) await Promise.race(inFlight);
    if (failure !== undefined) break;
    if (outerSignal?.aborted) {
      fail(new ExhibitError('aborted', INTERRUPTED));
      break;
    }

    const position = index * plan.blockSizeBytes;
    const length = Math.min(plan.blockSizeBytes, plan.size - position);
    // Every block but the last is full size; a file smaller than one block needs only its own size.
    const buffer = free.pop() ?? Buffer.allocUnsafe(Math.min(plan.blockSizeBytes, plan.size));
    const block = buffer.subarray(0, length);
    await readExactly(file, block, position);
    await hasher.update(block);
    progress.bytesRead += length;

    const id = blockId(index, createHash('sha256').update(block).digest('hex'));
    ids.push(id);
    if (staged.get(id) === length) {
      free.push(buffer);
      progress.blocksStaged++;
      progress.blocksReused++;
      progress.bytesStaged += length;
      report();
      continue;
    }
    report();

    const contentMd5 = createHash('md5').update(block).digest();
    const task: Promise<void> = target
      .stageBlock(id, block, { contentMd5, abortSignal: signal })
      .then(
        () => {
          progress.blocksStaged++;
          progress.bytesStaged += length;
          progress.bytesSent += length;
          report();
        },
        fail,
      )
      .finally(() => {
        free.push(buffer);
        inFlight.delete(task);
      });
    inFlight.add(task);
  }
  await Promise.all(inFlight);

  if (failure !== undefined) {
    // Interrupted by the caller: whichever block noticed first, the message is the same and says what to do.
    if (outerSignal?.aborted) {
      throw new ExhibitError('aborted', INTERRUPTED, { cause: failure });
    }
    throw failure;
  }
  return { ids, hashes: await hasher.digest(), uploadedBytes: progress.bytesSent };
}

/**
 * Opens the file to upload. Messages do not repeat its path: the command
 * prints each failure after the path it was given.
 */
export async function openRegularFile(filePath: string): Promise<FileHandle> {
  let file: FileHandle;
  try {
    file = await open(filePath, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ExhibitError('not-found', 'no such file', { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new ExhibitError('forbidden', 'cannot read it: permission denied', { cause: err });
    throw new ExhibitError('invalid-argument', `cannot open it${code ? ` (${code})` : ''}`, { cause: err });
  }
  const stat = await file.stat();
  if (!stat.isFile()) {
    await file.close();
    throw new ExhibitError('invalid-argument', stat.isDirectory() ? 'a folder, not a file (upload the files in it, or an archive of it)' : 'not a regular file');
  }
  return file;
}

async function readExactly(file: FileHandle, into: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new ExhibitError('precondition-failed', 'the file became shorter while it was being read; nothing was committed');
    done += bytesRead;
  }
}

function describeMismatches(mismatches: HashComparison[]): string {
  const lines = mismatches.map((m) => `  ${m.algorithm}: given ${m.given}, computed ${m.computed}`);
  return `the file does not match the acquisition hash; nothing was committed\n${lines.join('\n')}`;
}
