import { ExhibitError, errorMessage, isExhibitError, volumeNoteText, volumeProblemText, wireErrorDetails } from '@exhibit/core';
import { serveTasks, type TaskContext } from '@exhibit/core/worker-runtime';
import { BlobByteSource, SliceByteSource, type BlockCache } from './byte-source.js';
import type { ByteSource, FileSystemEntry } from './disk-reader.types.js';
import type { DiskAnswer, DiskHashTaskInput, DiskImageFacts, DiskRequest, DiskTaskInput, DiskVolumeResult, DiskVolumeTaskInput, WireEntry } from './disk-image.tasks.js';
import { InOrderMediaSource } from './in-order-media.source.js';
import { recordedLinkTarget } from './link-target.js';
import { openDiskImage, openFileSystem, type DiskImage, type OpenOptions } from './open-disk-image.js';
import { isVolumeNote } from './volume-system.reader.js';

/**
 * The disk parser thread (started by disk-image.pool.ts): containers (EWF
 * chunk tables and inflation, VHD block maps), volume systems and the FAT,
 * exFAT, NTFS and ext readers run here, never on the main thread. Bytes of
 * the evidence blob come from the main thread block by block (the block
 * cache, BlobByteSource, lives here); entries and member bytes go back one at
 * a time, each answered before the next is made (disk-image.tasks.ts).
 */

/** Bytes of a member's data (or of the media) per chunk sent to the main thread. */
export const DISK_CHUNK_BYTES = 1024 * 1024;

/** A chunk's buffer is a fresh copy the thread gives up: moved, not cloned. */
const ask = (context: TaskContext, request: DiskRequest, transfer?: ArrayBuffer): Promise<DiskAnswer> =>
  context.request(request, transfer ? [transfer] : []) as Promise<DiskAnswer>;

/**
 * Whether the task's blob reads now are a member's data (or the media in
 * order): sent as `follow` reads, which the main thread may serve by moving
 * the upload's single read forward (disk-image.reader.ts). Structure reads
 * (tables, directories, the MFT, inode tables) are not.
 */
interface ReadMode {
  following: boolean;
}

async function open(input: DiskTaskInput, context: TaskContext, options: OpenOptions = {}, mode: ReadMode = { following: false }): Promise<DiskImage> {
  const blobsOf = (segment: number) => ({
    async readRange(_blob: unknown, offset: number, length: number): Promise<Buffer> {
      const request: DiskRequest = { t: 'read', offset, length, ...(segment > 0 ? { segment } : {}), ...(mode.following ? { follow: true } : {}) };
      return Buffer.from((await context.request(request)) as ArrayBuffer);
    },
  });
  // One block cache for every segment: memory stays at LIMITS.diskCacheBlocks blocks however many there are.
  const cache: BlockCache = new Map();
  const whole = new BlobByteSource(blobsOf(0), { container: 'evidence', name: 'segment-1' }, input.blobSize, { cache });
  const first: ByteSource = input.offset === 0 && input.size === input.blobSize ? whole : new SliceByteSource(whole, input.offset, input.size);
  const more = (input.moreSegmentBytes ?? []).map(
    (size, i) => new BlobByteSource(blobsOf(i + 1), { container: 'evidence', name: `segment-${i + 2}` }, size, { cache }),
  );
  return openDiskImage([first, ...more], { ...options, ...(input.segmentNames ? { segmentNames: input.segmentNames } : {}) });
}

function facts(image: DiskImage): DiskImageFacts {
  return {
    format: image.format,
    mediaBytes: image.media.size,
    segmentCount: image.segmentCount,
    ...(image.ewf ? { ewf: image.ewf } : {}),
    ...(image.incomplete ? { incomplete: image.incomplete } : {}),
    volumes: image.volumeSystem.volumes.map((v) => ({ index: v.index, offset: v.offset, size: v.size, scheme: v.scheme, type: v.type, label: v.label })),
    // A note keeps its code in the text (volumeNoteOf), so status and the API show it as a note, not a problem; a problem
    // keeps its code too (volumeProblemText), which the review app shows with it (volumeIssueOf).
    volumeProblems: image.volumeSystem.problems.map((p) => (isVolumeNote(p) ? volumeNoteText(p.where, p.code, p.message) : volumeProblemText(p.where, p.code, p.message))),
  };
}

/** A hostile structure, recorded against the entry or the volume; anything else (storage, abort) ends the task. */
function hostile(err: unknown): err is ExhibitError {
  return isExhibitError(err) && !err.retryable && err.code !== 'aborted' && err.code !== 'timeout' && err.details?.['scope'] !== 'archive';
}

async function wireEntry(entry: FileSystemEntry): Promise<WireEntry> {
  const out: WireEntry = { path: entry.path, kind: entry.kind, size: entry.size, allocated: entry.allocated, recovered: entry.recovered, times: { ...entry.times } };
  if (entry.problem) out.problemCode = entry.problem.code;
  const linkTarget = await recordedLinkTarget(entry);
  if (linkTarget !== undefined) out.linkTarget = linkTarget;
  return out;
}

/**
 * Sends `data` chunk by chunk, each once the main thread asked for more; false when told to end the task.
 * Where the data lies in the blob (a span) is asked after its first bytes are read: a dynamic VHD knows a
 * block's sector bitmap only once it has read it.
 */
async function sendData(context: TaskContext, data: ByteSource, withSpan: boolean): Promise<boolean> {
  for (let at = 0; ; at += DISK_CHUNK_BYTES) {
    const length = Math.min(DISK_CHUNK_BYTES, data.size - at);
    const read = length > 0 ? await data.read(at, length) : new Uint8Array(0);
    const bytes = read.buffer.slice(read.byteOffset, read.byteOffset + read.byteLength) as ArrayBuffer;
    const last = at + length >= data.size;
    const span = at === 0 && withSpan && data.size > 0 ? (data.spanInBase?.(0, data.size) ?? null) : null;
    const answer = await ask(context, { t: 'chunk', bytes, last, ...(at === 0 ? { span } : {}) }, bytes);
    if (answer.op === 'end') return false;
    if (last || answer.op !== 'more') return true;
  }
}

async function sendEntryData(context: TaskContext, entry: FileSystemEntry, feed: InOrderMediaSource | null, mode: ReadMode): Promise<boolean> {
  // Member data moves the media hash's cursor (in-order-media.source.ts) and the upload's single read; structures read in between do not.
  mode.following = true;
  if (feed) feed.following = true;
  try {
    return await sendEntryBytes(context, entry);
  } finally {
    mode.following = false;
    if (feed) feed.following = false;
  }
}

async function sendEntryBytes(context: TaskContext, entry: FileSystemEntry): Promise<boolean> {
  try {
    if (entry.problem) throw new ExhibitError(entry.problem.code, `${entry.path}: ${entry.problem.message}`);
    if (!entry.data) throw new ExhibitError('corrupt-file', `${entry.path}: the file system describes no data for this entry`);
    return await sendData(context, entry.data(), true);
  } catch (err) {
    if (!hostile(err)) throw err;
    const details = wireErrorDetails(err.details);
    return (await ask(context, { t: 'data-error', code: err.code, message: errorMessage(err), ...(details ? { details } : {}) })).op !== 'end';
  }
}

serveTasks({
  async 'disk-open'(input, context) {
    return { value: facts(await open(input as DiskTaskInput, context)) };
  },

  /** Lists one volume, entry by entry, sending each entry's bytes when asked. */
  async 'disk-volume'(input, context) {
    const { volumeIndex, hashMediaFrom } = input as DiskVolumeTaskInput;
    let feed: InOrderMediaSource | null = null;
    const mode: ReadMode = { following: false };
    // The volume's notes are recorded from the disk-open task's facts; this open is for the volume's bytes.
    const image = await open(input as DiskTaskInput, context, {
      volumeNotes: false,
      ...(hashMediaFrom !== undefined
        ? {
            wrapMedia: (media: ByteSource) =>
              (feed = new InOrderMediaSource(media, hashMediaFrom, async (offset, bytes) => {
                await context.request({ t: 'media', offset, bytes } satisfies DiskRequest, [bytes]);
              })),
          }
        : {}),
    }, mode);
    const volume = image.volumeSystem.volumes.find((v) => v.index === volumeIndex);
    if (!volume) throw new ExhibitError('invalid-argument', `the image has no volume ${volumeIndex}`);
    const fs = await openFileSystem(volume);
    if ('problem' in fs) return { value: { fileSystem: null, problem: { ...fs.problem } } satisfies DiskVolumeResult };
    // A finding about the whole volume (fs.reader.problem) is reported with it; the listing still runs.
    const result: DiskVolumeResult = { fileSystem: fs.reader.type, problem: fs.reader.problem ? { ...fs.reader.problem } : null };
    let ended = false;
    try {
      for await (const entry of fs.reader.entries()) {
        const answer = await ask(context, { t: 'entry', entry: await wireEntry(entry), fileSystem: fs.reader.type });
        if (answer.op === 'end' || (answer.op === 'open' && !(await sendEntryData(context, entry, feed, mode)))) {
          ended = true;
          break;
        }
      }
      // Notes made while listing (FAT: the directories' cross-link check not made), said with the volume.
      if (fs.reader.notes?.length) result.notes = fs.reader.notes.map((n) => ({ ...n }));
      // The volume's finding did not stop its listing: the stage words it as a finding, not a stop.
      if (result.problem && !ended) result.problem.listedInFull = true;
    } catch (err) {
      // A hostile structure ends this volume only; storage faults and aborts end the unpack.
      if (!hostile(err)) throw err;
      // The volume's own finding is kept beside the error that ended the listing, not overwritten.
      result.problem = { code: err.code, message: result.problem ? `${errorMessage(err)}; also ${result.problem.code}: ${result.problem.message}` : errorMessage(err) };
    }
    const fed = feed as InOrderMediaSource | null;
    if (fed) {
      await fed.flush();
      result.mediaFeed = { ...fed.counts };
    }
    return { value: result };
  },

  /** The media from `from` on (what the volume tasks did not hand on), chunk by chunk, for the main thread to hash. */
  async 'disk-hash'(input, context) {
    const { from } = input as DiskHashTaskInput;
    // The media in order: its reads follow on from the listing's, like member data.
    const image = await open(input as DiskTaskInput, context, { volumeNotes: false }, { following: true });
    await sendData(context, from > 0 ? new SliceByteSource(image.media, from, image.media.size - from) : image.media, false);
    return { value: null };
  },
});
