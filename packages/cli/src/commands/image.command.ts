import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import { errorMessage, isExhibitError, type RecordedTime } from '@exhibit/core';
import {
  FileByteSource,
  fileSystems,
  incompleteMediaDetail,
  openDiskImage,
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

/** One file system (or a volume without a readable one) as `image ls --json` prints it. */
export interface ImageFileSystemRow {
  image: { format: DiskImage['format']; segments: number; mediaBytes: number; scheme: DiskImage['volumeSystem']['scheme'] };
  ewf?: DiskImage['ewf'] & { verification?: StoredHashCheck };
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

/** Wall-clock text as recorded, with the offset when the file system records one (FAT: none). */
const timeText = (t: RecordedTime | undefined) => (t ? (t.utc ?? t.local) : null);

/** Runs the readers over local image files and collects one row per file system. */
export async function listImage(
  paths: readonly string[],
  options: { md5?: boolean; verify?: boolean; abortSignal: AbortSignal },
): Promise<{ rows: ImageFileSystemRow[]; image: DiskImage; verification?: StoredHashCheck }> {
  // Split raw (.001 …) given in any order is read in the order of its numbers; a gap is refused.
  const sources = await Promise.all(orderSegmentFiles(paths).map((p) => FileByteSource.open(p)));
  try {
    const image = await openDiskImage(sources, { abortSignal: options.abortSignal });
    // A set with a segment cut short or missing: its stored hashes cannot be checked (renderText says why), its media is not hashed.
    const verification = options.verify && image.ewf && !image.ewf.incomplete ? await verifyStoredHashes(image, { abortSignal: options.abortSignal }) : undefined;
    const rows: ImageFileSystemRow[] = [];
    const imageInfo = { format: image.format, segments: image.segmentCount, mediaBytes: image.media.size, scheme: image.volumeSystem.scheme };
    for await (const opened of fileSystems(image, { abortSignal: options.abortSignal })) {
      const v = opened.volume;
      const row: ImageFileSystemRow = {
        image: imageInfo,
        ...(image.ewf ? { ewf: { ...image.ewf, ...(verification ? { verification } : {}) } } : {}),
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

function renderText(image: DiskImage, rows: ImageFileSystemRow[], verification: StoredHashCheck | undefined): string {
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
  // What is lost with a segment cut short or missing reads as failures of the files that need it; the rest is listed.
  if (image.ewf?.incomplete) lines.push(`  media incomplete: ${incompleteMediaDetail(image.ewf.incomplete)}`);
  if (verification) {
    const word = (m: boolean | null) => (m === null ? 'not stored' : m ? 'matches' : 'MISMATCH');
    lines.push(`  media MD5 ${verification.computed.md5} (${word(verification.md5Matches)}), SHA-1 ${verification.computed.sha1} (${word(verification.sha1Matches)})`);
  }
  for (const p of image.volumeSystem.problems) lines.push(`  volume problem (${p.where}): ${p.code}: ${p.message}`);
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
      if (verification && (verification.md5Matches === false || verification.sha1Matches === false)) ctx.setExitCode(EXIT.integrity);
      else if (rows.some((r) => r.problem) || opened.volumeSystem.problems.length || opened.ewf?.incomplete) ctx.setExitCode(EXIT.error);
    });
}
