/**
 * One validation run over a folder: walk it (bounded), read every file with
 * Exhibit and with the reference tools, compare field by field.
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ToolVersion } from '@exhibit/core';
import { ExhibitReader, type ExhibitReading } from './exhibit.extraction.js';
import {
  exhibitValues,
  exiftoolIsVideo,
  exiftoolValues,
  FIELDS,
  ffprobeValues,
  isMiss,
  show,
  tally,
  verdictOf,
  type ExiftoolRecord,
  type Field,
  type FieldSources,
  type FieldValues,
  type Tally,
  type Verdict,
} from './fields.compare.js';
import { exiftoolRecords, ffprobeJson, findTool, type ReferenceTool } from './reference.tools.js';

export interface ValidationOptions {
  /** Folder (or single file) to validate. */
  root: string;
  fields?: readonly Field[];
  /** Files read at most; the rest are reported as not read. */
  maxFiles?: number;
  /** Folder levels below the root walked at most. */
  maxDepth?: number;
  /** Tool paths; null: do not use that tool. Default: found on PATH. */
  exiftoolPath?: string | null;
  ffprobePath?: string | null;
  onFile?: (index: number, total: number, file: string) => void;
}

export const DEFAULT_MAX_FILES = 20_000;
export const DEFAULT_MAX_DEPTH = 32;

export interface FieldComparison {
  verdict: Verdict;
  exhibit: string;
  reference: string;
  /** The tag or JSON path the reference value came from. */
  source?: string;
}

export interface FileReport {
  /** Relative to the root. */
  file: string;
  exhibitType: string | null;
  /** Exhibit's metadata failure, as the pipeline would record it. */
  exhibitError?: { code: string; message: string };
  referenceNotes: string[];
  fields: Partial<Record<Field, FieldComparison>>;
}

export interface ValidationReport {
  root: string;
  fields: Field[];
  tools: { exhibit: ToolVersion[]; exiftool: string | null; ffprobe: string | null };
  notes: string[];
  files: FileReport[];
  tally: Partial<Record<Field, Tally>>;
  disagreements: Array<{ file: string; field: Field; verdict: Verdict; exhibit: string; reference: string; source?: string }>;
}

/** Regular files under `root`, sorted, symlinks not followed, at most `maxFiles` (plus whether more were left). */
export async function walk(root: string, maxFiles: number, maxDepth: number): Promise<{ files: string[]; truncated: boolean; skipped: string[] }> {
  const files: string[] = [];
  const skipped: string[] = [];
  const top = await lstat(root);
  if (top.isFile()) return { files: [root], truncated: false, skipped };
  const visit = async (dir: string, depth: number): Promise<boolean> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth >= maxDepth) skipped.push(`${full}: deeper than ${maxDepth} levels`);
        else if (!(await visit(full, depth + 1))) return false;
      } else if (e.isFile()) {
        if (files.length >= maxFiles) return false;
        files.push(full);
      } else {
        skipped.push(`${full}: not a regular file`);
      }
    }
    return true;
  };
  const complete = await visit(root, 0);
  return { files, truncated: !complete, skipped };
}

export async function runValidation(options: ValidationOptions): Promise<ValidationReport> {
  const root = path.resolve(options.root);
  const fields = [...(options.fields ?? FIELDS)];
  const notes: string[] = [];
  const maxFiles = options.maxFiles ?? DEFAULT_MAX_FILES;
  const { files, truncated, skipped } = await walk(root, maxFiles, options.maxDepth ?? DEFAULT_MAX_DEPTH);
  if (truncated) notes.push(`stopped after ${maxFiles} files (--max-files); the rest were not read`);
  for (const s of skipped.slice(0, 20)) notes.push(`skipped ${path.relative(root, s) || s}`);
  if (skipped.length > 20) notes.push(`… and ${skipped.length - 20} more skipped`);

  const exiftool = await resolveTool('exiftool', options.exiftoolPath, notes);
  const ffprobe = await resolveTool('ffprobe', options.ffprobePath, notes);
  let records = new Map<string, ExiftoolRecord>();
  if (exiftool) {
    try {
      records = await exiftoolRecords(exiftool, files);
    } catch (err) {
      notes.push(`exiftool failed, its fields are not compared: ${(err as Error).message}`);
    }
  }
  const exiftoolRan = exiftool !== null && records.size > 0;

  const reader = new ExhibitReader();
  const reports: FileReport[] = [];
  const verdicts = new Map<Field, Verdict[]>(fields.map((f) => [f, []]));
  try {
    for (const [index, file] of files.entries()) {
      options.onFile?.(index, files.length, file);
      let reading: ExhibitReading;
      try {
        reading = await reader.read(file);
      } catch (err) {
        // Not Exhibit's verdict on the file (that would be an ExhibitError inside read): the file could not be opened or read here.
        reading = { identification: { mime: null, detectedExt: null, kind: 'other' }, metadata: null, error: { code: 'validator-read-failed', message: (err as Error).message } };
      }
      const exhibit = exhibitValues(reading.identification, reading.metadata);
      const record = records.get(file);
      const referenceNotes: string[] = [];
      const reference: FieldValues = {};
      const sources: FieldSources = {};
      const comparedBy = new Set<Field>();
      if (exiftoolRan) {
        if (!record) referenceNotes.push('exiftool printed nothing for this file');
        else {
          if (typeof record['ExifTool:Error'] === 'string') referenceNotes.push(`exiftool: ${record['ExifTool:Error']}`);
          const r = exiftoolValues(record);
          Object.assign(reference, r.values);
          Object.assign(sources, r.sources);
        }
        for (const f of ['type', 'make', 'model', 'takenAt', 'gps'] as const) comparedBy.add(f);
      }
      // Video: what exiftool says, else what Exhibit says when exiftool could not say.
      const isVideo = record ? exiftoolIsVideo(record) : reading.identification.kind === 'video';
      if (!isVideo && exiftoolRan) comparedBy.add('pixelSize');
      const wantsProbe = isVideo || reading.identification.kind === 'video' || exhibit.durationSec !== undefined || exhibit.codecs !== undefined;
      if (ffprobe) {
        // Not a video on either side: ffprobe is not asked, and its fields are absent on the reference side by definition.
        comparedBy.add('durationSec');
        comparedBy.add('codecs');
        if (isVideo) comparedBy.add('pixelSize');
        if (wantsProbe) {
          const probed = await ffprobeJson(ffprobe, file);
          if ('error' in probed) referenceNotes.push(`ffprobe: ${probed.error}`);
          else {
            const r = ffprobeValues(probed);
            for (const f of ['durationSec', 'codecs'] as const) {
              if (r.values[f] !== undefined) (reference as Record<string, unknown>)[f] = r.values[f];
              if (r.sources[f]) sources[f] = r.sources[f];
            }
            if (isVideo && r.values.pixelSize) [reference.pixelSize, sources.pixelSize] = [r.values.pixelSize, r.sources.pixelSize];
          }
        }
      }
      const report: FileReport = {
        file: path.relative(root, file) || path.basename(file),
        exhibitType: reading.identification.mime,
        referenceNotes,
        fields: {},
      };
      if (reading.error) report.exhibitError = reading.error;
      for (const field of fields) {
        const verdict = verdictOf(field, exhibit, reference, comparedBy.has(field));
        verdicts.get(field)!.push(verdict);
        const c: FieldComparison = { verdict, exhibit: show(field, exhibit[field]), reference: show(field, reference[field]) };
        if (sources[field]) c.source = sources[field];
        report.fields[field] = c;
      }
      reports.push(report);
    }
  } finally {
    await reader.close();
  }

  const exhibitTools = await reader.tools.versions();
  const disagreements: ValidationReport['disagreements'] = [];
  for (const r of reports) {
    for (const field of fields) {
      const c = r.fields[field]!;
      if (isMiss(c.verdict)) disagreements.push({ file: r.file, field, ...c });
    }
  }
  return {
    root,
    fields,
    tools: { exhibit: exhibitTools, exiftool: exiftool?.version ?? null, ffprobe: ffprobe?.version ?? null },
    notes,
    files: reports,
    tally: Object.fromEntries(fields.map((f) => [f, tally(verdicts.get(f)!)])),
    disagreements,
  };
}

async function resolveTool(name: 'exiftool' | 'ffprobe', configured: string | null | undefined, notes: string[]): Promise<ReferenceTool | null> {
  if (configured === null) {
    notes.push(`${name} not used (disabled); its fields are not compared`);
    return null;
  }
  const found = await findTool(name, configured ?? name);
  if ('missing' in found) {
    const install = name === 'exiftool' ? 'apt-get install libimage-exiftool-perl' : 'apt-get install ffmpeg';
    notes.push(`${found.missing}: its fields are not compared (${install})`);
    return null;
  }
  return found;
}
