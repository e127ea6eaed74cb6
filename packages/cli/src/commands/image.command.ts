import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { errorMessage, isExhibitError, type RecordedTime } from '@exhibit/core';
import {
  FileByteSource,
  fileSystems,
  incompleteMediaDetail,
  isVolumeNote,
  openDiskImage,
  storesHashes,
  orderSegmentFiles,
  verifyStoredHashes,
  type DiskImage,
  type FileSystemEntry,
  type StoredHashCheck,
} from '@exhibit/pipeline';
import { EXIT } from '../cli-error.js';
import type { CliContext } from '../context.js';

/** One file as `image ls --json` prints it. */
export interface ImageFileRow {
  path: string;
  entryId: string;
  allocated: boolean;
  recovered: boolean;
  kind: FileSystemEntry['kind'];
  size: number;
  modified: string | null;
  accessed: string | null;
  changed: string | null;
  created: string | null;
  md5: string | null;
  problem: string | null;
}

/**
 * `--verify`'s result: the stored hashes checked against the media (`result` verified or mismatch, with the hashes
 * computed; no-reference when the image stores none), or `failed` when the media could not be read whole (a chunk
 * failing the Adler-32 the acquisition wrote, or not inflating: damaged or altered media) with `problem` naming it.
 * Nothing is verified then.
 */
export type ImageVerification =
  | (StoredHashCheck & { result: 'verified' | 'mismatch' | 'no-reference' })
  | { result: 'failed'; stored: StoredHashCheck['stored']; computed: null; md5Matches: null; sha1Matches: null; problem: string };

/** One file system (or a volume without a readable one) as `image ls --json` prints it. */
export interface ImageFileSystemRow {
  image: {
    format: DiskImage['format'];
    segments: number;
    mediaBytes: number;
    scheme: DiskImage['volumeSystem']['scheme'];
    /** The volume system's problems and notes (a file system read on past its partition entry: code read-past-entry). */
    volumeProblems: DiskImage['volumeSystem']['problems'];
  };
  ewf?: DiskImage['ewf'] & { verification?: ImageVerification };
  /** Why part of the media is lost (an EWF segment cut or missing, a split raw piece's lost tail): its files fail typed. */
  incomplete?: DiskImage['incomplete'];
  volume: { index: number; scheme: string; offset: number; size: number; type: string; label: string };
  fileSystem: string | null;
  label: string | null;
  problem: string | null;
  files: ImageFileRow[];
}

const READ_STEP_BYTES = 1024 * 1024;

async function md5Of(entry: FileSystemEntry, abortSignal: AbortSignal): Promise<string> {
  const data = entry.data!();
  const hash = createHash('md5');
  for (let at = 0; at < data.size; at += READ_STEP_BYTES) {
    abortSignal.throwIfAborted();
    hash.update(await data.read(at, Math.min(READ_STEP_BYTES, data.size - at), { abortSignal }));
  }
  return hash.digest('hex');
}

/**
 * The stored-hash check of --verify. Media that cannot be read whole is the check's result (failed, with the reason),
 * never the command's end: the files are still listed (those on the bad chunk fail alone, as without --verify), and
 * the exit code says the image is not verified (regression `ewf-damaged-chunk-verify-lists-nothing`: the check's
 * Adler-32 error ended `image ls --verify` with exit 1 and nothing listed, `--json` included).
 */
async function verify(image: DiskImage, abortSignal: AbortSignal): Promise<ImageVerification> {
  try {
    const check = await verifyStoredHashes(image, { abortSignal });
    const result = check.md5Matches === false || check.sha1Matches === false ? 'mismatch' : check.md5Matches || check.sha1Matches ? 'verified' : 'no-reference';
    return { result, ...check };
  } catch (err) {
    if (!isExhibitError(err) || err.retryable || err.code === 'aborted' || err.code === 'timeout') throw err;
    return { result: 'failed', stored: image.ewf?.storedHashes ?? {}, computed: null, md5Matches: null, sha1Matches: null, problem: `${err.code}: ${errorMessage(err)}` };
  }
}

/** Wall-clock text as recorded, with the offset when the file system records one (FAT: none). */
const timeText = (t: RecordedTime | undefined) => (t ? (t.utc ?? t.local) : null);

/** Runs the readers over local image files and collects one row per file system. */
export async function listImage(
  paths: readonly string[],
  options: { md5?: boolean; verify?: boolean; abortSignal: AbortSignal },
): Promise<{ rows: ImageFileSystemRow[]; image: DiskImage; verification?: ImageVerification }> {
  // Split raw (.001 …) given in any order is read in the order of its numbers; a gap is refused.
  const ordered = orderSegmentFiles(paths);
  const sources = await Promise.all(ordered.map((p) => FileByteSource.open(p)));
  try {
    const image = await openDiskImage(sources, { abortSignal: options.abortSignal, segmentNames: ordered });
    // A set with a segment cut short or missing: its stored hashes cannot be checked (renderText says why), its media is not hashed.
    const verification = options.verify && image.ewf && !image.incomplete ? await verify(image, options.abortSignal) : undefined;
    const rows: ImageFileSystemRow[] = [];
    const imageInfo = { format: image.format, segments: image.segmentCount, mediaBytes: image.media.size, scheme: image.volumeSystem.scheme, volumeProblems: image.volumeSystem.problems };
    for await (const opened of fileSystems(image, { abortSignal: options.abortSignal })) {
      const v = opened.volume;
      const row: ImageFileSystemRow = {
        image: imageInfo,
        ...(image.ewf ? { ewf: { ...image.ewf, ...(verification ? { verification } : {}) } } : {}),
        ...(image.incomplete ? { incomplete: image.incomplete } : {}),
        volume: { index: v.index, scheme: v.scheme, offset: v.offset, size: v.size, type: v.type, label: v.label },
        fileSystem: 'reader' in opened ? opened.reader.type : null,
        label: 'reader' in opened ? (opened.reader.label ?? null) : null,
        problem: 'problem' in opened ? `${opened.problem.code}: ${opened.problem.message}` : opened.reader.problem ? `${opened.reader.problem.code}: ${opened.reader.problem.message}` : null,
        files: [],
      };
      if ('reader' in opened) {
        try {
          for await (const entry of opened.reader.entries({ abortSignal: options.abortSignal })) {
            let md5: string | null = null;
            let problem = entry.problem ? `${entry.problem.code}: ${entry.problem.message}` : null;
            if (options.md5 && entry.data && entry.kind === 'file') {
              try {
                md5 = await md5Of(entry, options.abortSignal);
              } catch (err) {
                if (!isExhibitError(err) || err.retryable) throw err;
                problem = `${err.code}: ${err.message}`;
              }
            }
            row.files.push({
              path: entry.path,
              entryId: entry.entryId,
              allocated: entry.allocated,
              recovered: entry.recovered,
              kind: entry.kind,
              size: entry.size,
              modified: timeText(entry.times.modified),
              accessed: timeText(entry.times.accessed),
              changed: timeText(entry.times.changed),
              created: timeText(entry.times.created),
              md5,
              problem,
            });
          }
        } catch (err) {
          if (!isExhibitError(err) || err.retryable) throw err;
          // The volume's own finding (reader.problem) is kept beside the error that ended the listing.
          row.problem = `${err.code}: ${err.message}${row.problem ? `; also ${row.problem}` : ''}`;
        }
      }
      rows.push(row);
    }
    return { rows, image, ...(verification ? { verification } : {}) };
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
}

function renderText(image: DiskImage, rows: ImageFileSystemRow[], verification: ImageVerification | undefined): string {
  const lines: string[] = [];
  lines.push(`image: ${image.format}, ${image.segmentCount} segment(s), ${image.media.size} bytes, volume system ${image.volumeSystem.scheme}`);
  if (image.ewf) {
    const h = image.ewf.header;
    const field = (name: string, value: string | undefined) => value && lines.push(`  ${name}: ${value}`);
    field('case number', h.caseNumber);
    field('evidence number', h.evidenceNumber);
    field('examiner', h.examiner);
    field('description', h.description);
    field('notes', h.notes);
    field('acquired', h.acquisitionDate ? (h.acquisitionDate.utc ?? `${h.acquisitionDate.local} (local, zone unknown)`) : undefined);
    field('acquiring software version', h.acquiringSoftwareVersion);
    field('stored MD5', image.ewf.storedHashes.md5);
    field('stored SHA-1', image.ewf.storedHashes.sha1);
  }
  // What is lost with a segment cut short or missing (or a split raw piece's lost tail) reads as failures of the files
  // that need it; the rest is listed.
  if (image.incomplete) lines.push(`  media incomplete: ${incompleteMediaDetail(image.incomplete, { storedHashes: storesHashes(image.ewf) })}`);
  if (verification?.result === 'failed') {
    lines.push(`  stored hashes NOT VERIFIED: the media could not be read whole (${verification.problem})`);
  } else if (verification) {
    const word = (m: boolean | null) => (m === null ? 'not stored' : m ? 'matches' : 'MISMATCH');
    lines.push(`  media MD5 ${verification.computed.md5} (${word(verification.md5Matches)}), SHA-1 ${verification.computed.sha1} (${word(verification.sha1Matches)})`);
  }
  // A note (a file system read on past its partition entry) records how a volume was read; nothing of it failed.
  for (const p of image.volumeSystem.problems) lines.push(`  volume ${isVolumeNote(p) ? 'note' : 'problem'} (${p.where}): ${p.code}: ${p.message}`);
  for (const row of rows) {
    const v = row.volume;
    lines.push('');
    lines.push(
      `volume ${v.index} (${v.scheme}${v.type ? ` ${v.type}` : ''}${v.label ? ` "${v.label}"` : ''}) at ${v.offset}, ${v.size} bytes: ` +
        (row.fileSystem ? `${row.fileSystem}${row.label ? ` "${row.label}"` : ''}` : 'no file system read') +
        (row.problem ? ` — ${row.problem}` : ''),
    );
    for (const f of row.files) {
      const state = f.allocated ? 'allocated' : f.recovered ? 'deleted,recovered' : 'deleted';
      const cells = [f.entryId, state, f.kind, String(f.size), f.modified ?? '-', f.accessed ?? '-', f.created ?? '-'];
      if (f.md5 !== null || f.problem) cells.push(f.md5 ?? '-');
      lines.push(`  ${cells.join('\t')}\t${f.path}${f.problem ? `\t[${f.problem}]` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** `exhibit image ls <files…>`: triage a local disk image (E01, raw, split, VHD) before uploading it. */
export function register(program: Command, ctx: CliContext): void {
  const image = program.command('image').description('read local disk images (E01, raw/dd, split raw, VHD) without uploading them');
  image
    .command('ls')
    .description('list the volumes and files of a disk image; give every segment (image.E01 image.E02 …, disk.001 disk.002 …) in order')
    .argument('<files...>', 'the image file, or all of its segments')
    .option('--json', 'print one object per file system, each with its files')
    .option('--md5', "hash each file's data (MD5)")
    .option('--verify', "EWF: hash the media and compare with the image's stored MD5/SHA-1")
    .action(async (files: string[], options: { json?: boolean; md5?: boolean; verify?: boolean }) => {
      let result: Awaited<ReturnType<typeof listImage>>;
      try {
        result = await listImage(files, { md5: !!options.md5, verify: !!options.verify, abortSignal: ctx.abortSignal });
      } catch (err) {
        if (!isExhibitError(err) || err.retryable) throw err;
        ctx.stderr.write(`exhibit image ls: ${err.code}: ${errorMessage(err)}\n`);
        ctx.setExitCode(EXIT.error);
        return;
      }
      const { rows, image: opened, verification } = result;
      ctx.stdout.write(options.json ? JSON.stringify(rows, null, 2) + '\n' : renderText(opened, rows, verification));
      // Not verified (a mismatch, media that could not be read whole, or a segment cut short or missing, EWF or split raw)
      // is an integrity problem, as a mismatch is.
      if ((verification && (verification.result === 'mismatch' || verification.result === 'failed')) || opened.incomplete) ctx.setExitCode(EXIT.integrity);
      else if (rows.some((r) => r.problem) || opened.volumeSystem.problems.some((p) => !isVolumeNote(p))) ctx.setExitCode(EXIT.error);
    });
}
