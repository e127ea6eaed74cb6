import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import { API_LIMITS } from '@exhibit/api';
import { errorMessage, ExhibitError, LIMITS, type AcquisitionInfo, type DeclaredSegment } from '@exhibit/core';
import { exitCodeFor } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { formatBytes, formatCount, printable } from '../render/format.js';
import { createUploadProgressView } from '../render/upload-progress.view.js';
import { HASH_ALGORITHMS, parseHashHex } from '../upload/acquisition-metadata.js';
import { readHashLists, type HashList } from '../upload/hash-list.js';
import { UPLOAD_LIMITS, uploadEvidenceFile, type UploadResult } from '../upload/upload.service.js';
import { registerUpload, registrationBody } from '../upload/upload-registration.js';
import { planImageSegments, type UploadOrder } from '../upload/image-segments.plan.js';
import { renderCaseOpened } from '../render/upload-registration.render.js';
import { idOption, intOption, positiveNumberOption } from './option-parsers.js';

const MIB = 1024 * 1024;

export interface UploadCommandOptions {
  case: string;
  evidence: string;
  examiner?: string;
  exhibitRef?: string;
  description?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
  hashFile?: string[];
  blockSizeMb?: number;
  parallel: number;
  json?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('upload')
    .description(
      'upload evidence files to the evidence container as <case>/<evidence>/<file name>, hashing them (MD5, SHA-1, SHA-256) on the way; ' +
        'an interrupted upload resumes when run again; existing evidence is never overwritten. Needs an examiner token (exhibit login): ' +
        'each file is first registered with the API, which records you as its uploader and, on a case that does not exist yet, assigns you to it',
    )
    .argument('<file...>', 'files to upload (each is stored under its base name); a split disk image (card.E01 card.E02 …, disk.001 disk.002 …) is uploaded whole, its first segment last, and a first segment given alone brings the segments beside it')
    .requiredOption('--case <caseId>', 'case id', idOption('case'))
    .requiredOption('--evidence <evidenceId>', 'evidence item id', idOption('evidence'))
    .option('--examiner <name>', 'examiner who acquired the evidence (free text; the uploader is recorded from your token)')
    .option('--exhibit-ref <ref>', 'exhibit reference, e.g. a bag or seal number')
    .option('--description <text>', 'what the evidence is')
    .option('--md5 <hex>', 'MD5 recorded at acquisition; the upload is refused if the file does not match')
    .option('--sha1 <hex>', 'SHA-1 recorded at acquisition; the upload is refused if the file does not match')
    .option('--sha256 <hex>', 'SHA-256 recorded at acquisition; the upload is refused if the file does not match')
    .option(
      '--hash-file <file>',
      'acquisition hashes of several files (a split image\'s segments), as md5sum/sha1sum/sha256sum write them ("<hex>  <name>") or "MD5 (<name>) = <hex>"; ' +
        'matched by file name; each file is refused if it does not match, as with --md5, and a split image\'s segment hashes are declared in its manifest; may be given more than once',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addOption(
      new Option('--block-size-mb <n>', `block size in MiB (default ${UPLOAD_LIMITS.defaultBlockBytes / MIB}, raised automatically for very large files)`).argParser(
        positiveNumberOption(UPLOAD_LIMITS.maxBlockBytes / MIB),
      ),
    )
    .option('--parallel <n>', 'blocks uploaded at once; memory use is about parallel x block size', intOption(1, UPLOAD_LIMITS.maxParallel), UPLOAD_LIMITS.defaultParallel)
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      '\nMetadata: acquisition_md5/sha1/sha256 (given, else computed), acquisition_hash_origin, examiner, exhibit_ref, description.\n' +
        'Text that is not printable ASCII is stored as encodeURIComponent(text); readers apply decodeURIComponent.\n' +
        'Exit codes: 0 uploaded, 1 failed, 2 usage, 3 a given hash did not match (nothing committed).',
    )
    .action(async (files: string[], options: UploadCommandOptions) => {
      await runUpload(ctx, files, options);
    });
}

/** Builds the acquisition record from the options; usage errors surface before any file is read. */
export function acquisitionFromOptions(files: string[], options: UploadCommandOptions): AcquisitionInfo {
  const given = { md5: options.md5, sha1: options.sha1, sha256: options.sha256 };
  const anyGiven = Object.values(given).some((v) => v !== undefined);
  if (anyGiven && files.length > 1) {
    throw new ExhibitError('invalid-argument', '--md5/--sha1/--sha256 describe one file: upload files with acquisition hashes one at a time');
  }
  const names = files.map((f) => path.basename(f));
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) {
    throw new ExhibitError('invalid-argument', `two files share the name ${JSON.stringify(duplicate)}; each evidence item holds one file per name`);
  }
  const acquisition: AcquisitionInfo = {};
  if (options.examiner) acquisition.examiner = options.examiner;
  if (options.exhibitRef) acquisition.exhibitRef = options.exhibitRef;
  if (options.description) acquisition.description = options.description;
  if (given.md5 !== undefined) acquisition.md5 = parseHashHex('md5', given.md5);
  if (given.sha1 !== undefined) acquisition.sha1 = parseHashHex('sha1', given.sha1);
  if (given.sha256 !== undefined) acquisition.sha256 = parseHashHex('sha256', given.sha256);
  return acquisition;
}

export function blockSizeBytesFromMb(mb: number | undefined): number | undefined {
  // Rounded to whole KiB so a typed fraction such as 0.0625 gives exactly 64 KiB.
  return mb === undefined ? undefined : Math.round(mb * 1024) * 1024;
}

/** A file's acquisition record: the options', with its hashes from the --hash-file lists (a hash given both ways must agree). */
export function acquisitionOf(file: string, acquisition: AcquisitionInfo, hashList: HashList): AcquisitionInfo {
  const listed = hashList.get(path.basename(file));
  if (!listed) return acquisition;
  const out = { ...acquisition };
  for (const alg of HASH_ALGORITHMS) {
    const value = listed[alg];
    if (value === undefined) continue;
    if (out[alg] !== undefined && out[alg] !== value) throw new ExhibitError('invalid-argument', `--${alg} and --hash-file give ${path.basename(file)} two different ${alg} hashes`);
    out[alg] = value;
  }
  return out;
}

/**
 * Each split image's manifest (image-segments.plan.ts): its segments in order
 * with their sizes and the hashes the lists give, declared with the first
 * segment's registration before any segment is sent, so the pipeline waits
 * for the whole set whatever order the segments arrive in.
 *
 * A manifest the API would refuse (more than LIMITS.maxDeclaredImageSegments
 * segments, a registration body over API_LIMITS.maxBodyBytes, or a custody
 * entry over API_LIMITS.maxUploadCustodyBytes) is not
 * declared: the set goes up as before manifests existed (the names and the
 * `imagesegments` count on the first segment decide), with a warning, rather
 * than not at all.
 */
export async function manifestsOf(
  order: UploadOrder,
  hashList: HashList,
  evidenceId: string,
): Promise<{ manifests: Map<string, DeclaredSegment[]>; warnings: string[] }> {
  const manifests = new Map<string, DeclaredSegment[]>();
  const warnings: string[] = [];
  for (const [first, later] of order.laterSegments) {
    const segments: DeclaredSegment[] = [];
    for (const file of [first, ...later]) segments.push({ fileName: path.basename(file), size: (await stat(file)).size, ...hashList.get(path.basename(file)) });
    const why = undeclarableBecause(evidenceId, segments);
    if (why === null) {
      manifests.set(first, segments);
      continue;
    }
    const hashed = segments.some((s) => HASH_ALGORITHMS.some((alg) => s[alg] !== undefined));
    warnings.push(
      `no segment manifest declared for ${path.basename(first)}: ${why}; its ${segments.length} segments are uploaded without one (the first last, with the number of segments)` +
        (hashed ? '; each segment is still checked against its --hash-file hashes here, before it is committed' : ''),
    );
  }
  return { manifests, warnings };
}

/** Why the API would refuse this manifest, or null when it fits (same serialisation as registerUpload's body). */
function undeclarableBecause(evidenceId: string, segments: DeclaredSegment[]): string | null {
  if (segments.length > LIMITS.maxDeclaredImageSegments) return `it has more than ${formatCount(LIMITS.maxDeclaredImageSegments)} segments`;
  const first = segments[0]!;
  const bytes = Buffer.byteLength(JSON.stringify(registrationBody(evidenceId, first.fileName, first.size, segments)));
  if (bytes > API_LIMITS.maxBodyBytes) return `it takes ${formatBytes(bytes)}, more than the API's request limit of ${formatBytes(API_LIMITS.maxBodyBytes)}`;
  // The registration's custody entry repeats the manifest with the blob name and the user, which the
  // API measures (maxUploadCustodyBytes); counted here at their longest (ids of 64, a user of 256).
  const entryBytes = bytes + Buffer.byteLength(`${'c'.repeat(64)}/${evidenceId}/${first.fileName}`) + 3 * API_LIMITS.maxUserChars + 256;
  if (entryBytes > API_LIMITS.maxUploadCustodyBytes) {
    return `its custody entry could take ${formatBytes(entryBytes)}, more than the ${formatBytes(API_LIMITS.maxUploadCustodyBytes)} the API accepts`;
  }
  return null;
}

async function runUpload(ctx: CliContext, given: string[], options: UploadCommandOptions): Promise<void> {
  // A split disk image goes up whole, its first segment last (image-segments.plan.ts).
  const order = await planImageSegments(given);
  for (const file of order.added) ctx.stderr.write(`exhibit upload: adding ${printable(file)}, a segment of the same split image\n`);
  const files = order.files;
  const acquisition = acquisitionFromOptions(files, options);
  const hashList = await readHashLists(options.hashFile ?? []);
  // Usage errors (a hash given two ways) before any byte is sent.
  const acquisitions = new Map(files.map((f) => [f, acquisitionOf(f, acquisition, hashList)]));
  const { manifests, warnings } = await manifestsOf(order, hashList, options.evidence);
  for (const warning of warnings) ctx.stderr.write(`exhibit upload: warning: ${warning}\n`);
  const blockSizeBytes = blockSizeBytesFromMb(options.blockSizeMb);
  const container = ctx.config().containers.evidence;
  const store = ctx.blockBlobs();
  const results: UploadResult[] = [];
  const errors: Array<{ file: string; code: string; message: string; details?: Record<string, unknown> }> = [];

  const api = await ctx.api();
  // Declared first: a set whose manifest is refused is not sent at all (its segments would be read without it).
  const refusedSets = new Map<string, string>();
  for (const [first, segments] of manifests) {
    try {
      const registration = await registerUpload(api, first, { caseId: options.case, evidenceId: options.evidence, segments, abortSignal: ctx.abortSignal });
      if (registration.claimedCase) ctx.stderr.write(renderCaseOpened(registration));
    } catch (err) {
      ctx.setExitCode(exitCodeFor(err));
      const message = `not uploaded: the segment manifest of ${path.basename(first)} was refused: ${errorMessage(err)}`;
      for (const file of [first, ...order.laterSegments.get(first)!]) refusedSets.set(file, message);
    }
  }
  for (const file of files) {
    if (ctx.abortSignal.aborted) break;
    const refused = refusedSets.get(file);
    if (refused) {
      errors.push({ file, code: 'precondition-failed', message: refused });
      ctx.stderr.write(`exhibit upload: ${printable(file)}: ${refused}\n`);
      continue;
    }
    // A first segment after a failed segment of its set would be read as a short image: it waits for the next run.
    if (order.laterSegments.get(file)?.some((segment) => errors.some((e) => e.file === segment))) {
      errors.push({ file, code: 'precondition-failed', message: 'not uploaded: a segment of its split image failed; run the same command again' });
      ctx.stderr.write(`exhibit upload: ${printable(file)}: not uploaded: a segment of its split image failed; run the same command again\n`);
      ctx.setExitCode(1);
      continue;
    }
    const view = createUploadProgressView(ctx.stderr);
    try {
      if (!manifests.has(file)) {
        const registration = await registerUpload(api, file, { caseId: options.case, evidenceId: options.evidence, abortSignal: ctx.abortSignal });
        if (registration.claimedCase) ctx.stderr.write(renderCaseOpened(registration));
      }
      const result = await uploadEvidenceFile(store, file, {
        container,
        caseId: options.case,
        evidenceId: options.evidence,
        acquisition: acquisitions.get(file)!,
        ...(order.segmentCounts.has(file) ? { imageSegments: order.segmentCounts.get(file)! } : {}),
        ...(blockSizeBytes === undefined ? {} : { blockSizeBytes }),
        parallel: options.parallel,
        onProgress: (p) => view.update(p),
        abortSignal: ctx.abortSignal,
      });
      view.finish();
      results.push(result);
      if (!options.json) ctx.stdout.write(renderUploadResult(container, result, acquisitions.get(file)!));
    } catch (err) {
      view.finish();
      ctx.setExitCode(exitCodeFor(err));
      const code = err instanceof ExhibitError ? err.code : 'error';
      const entry = { file, code, message: errorMessage(err), ...(err instanceof ExhibitError && err.details ? { details: err.details } : {}) };
      errors.push(entry);
      ctx.stderr.write(`exhibit upload: ${printable(file)}: ${entry.message}\n`);
    }
  }
  if (options.json) ctx.stdout.write(JSON.stringify({ uploaded: results, failed: errors }, null, 2) + '\n');
}

export function renderUploadResult(container: string, r: UploadResult, acquisition: AcquisitionInfo): string {
  const check = (alg: 'md5' | 'sha1' | 'sha256') => (acquisition[alg] === undefined ? '' : '  (matches the given acquisition hash)');
  const lines = [
    `uploaded ${printable(`${container}/${r.blobName}`)}`,
    `  size      ${formatCount(r.size)} bytes (${formatBytes(r.size)}) in ${r.blocks} block${r.blocks === 1 ? '' : 's'} of ${formatBytes(r.blockSizeBytes)}`,
  ];
  if (r.reusedBlocks > 0) lines.push(`  resumed   ${r.reusedBlocks} block${r.reusedBlocks === 1 ? '' : 's'} reused from an interrupted upload, ${formatBytes(r.uploadedBytes)} sent now`);
  lines.push(`  md5       ${r.hashes.md5}${check('md5')}`, `  sha1      ${r.hashes.sha1}${check('sha1')}`, `  sha256    ${r.hashes.sha256}${check('sha256')}`);
  return lines.join('\n') + '\n';
}
