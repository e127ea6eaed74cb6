import { ExhibitError, type ContentSource, type EvidenceRef, type FileFailure, type FileFlag, type FileStage, type UnpackState } from '@exhibit/core';
import { clampDetail } from './index-store.rows.js';
import { FILE_STAGE_ORDER } from './index-store.status.js';

/**
 * How a file's state may change, in one place: every statement that moves,
 * fails or unpacks a file (advanceFile, failFile, setUnpack, and the stage
 * writes that carry a move) is built from the fragments here.
 */

/** Positional parameters for a statement assembled from parts: add() returns the placeholder. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** The stage order as an SQL array literal (fixed values, never input). */
const STAGE_ORDER_SQL = `ARRAY[${FILE_STAGE_ORDER.map((s) => `'${s}'`).join(', ')}]::text[]`;

const UNPACK_RANK: Record<UnpackState, number> = { 'n/a': 0, pending: 1, done: 2, failed: 2 };

/** n/a → pending → done | failed: the rank of an unpack state, as SQL (done and failed are final). */
export function unpackRankSql(expr: string): string {
  const ranks = Object.entries(UNPACK_RANK).map(([state, rank]) => `WHEN '${state}' THEN ${rank}`);
  return `(CASE ${expr} ${ranks.join(' ')} END)`;
}

export function unpackRank(state: UnpackState): number {
  const rank = UNPACK_RANK[state];
  if (rank === undefined) throw new ExhibitError('invalid-argument', `unknown unpack state ${String(state)}`);
  return rank;
}

export function uniqueFlags(flags: readonly FileFlag[] | undefined): FileFlag[] {
  return [...new Set(flags ?? [])];
}

/** Appends flags as a set, in first-seen order. */
export function addFlagsSql(column: string, flagsParam: string): string {
  return `${column} || ARRAY(SELECT x FROM unnest(${flagsParam}::text[]) WITH ORDINALITY AS t (x, i) WHERE x <> ALL (${column}) ORDER BY i)`;
}

export interface FileMoveSpec {
  fileId: string;
  stage: FileStage;
  /** Only a file of this evidence item moves (a message names both). */
  evidence?: EvidenceRef;
  /** Values already set are kept: the first writer wins. */
  sha256?: string;
  size?: number;
  source?: ContentSource;
  flags?: FileFlag[];
  unpack?: 'pending';
  /** Extra condition for the move, e.g. that the content it follows from exists. */
  onlyIf?: string;
}

/**
 * CTEs `before` (the file, locked before its stage is read, so of two
 * concurrent identical moves exactly one sees the old stage) and `moved` (the
 * file after the move, with `old_stage`). The rule: forward or to the same
 * stage, never backwards, never out of 'failed'. The same-stage case lets the
 * hash stage fill in a pending root's SHA-256; it is not a move.
 */
export function fileMoveCtes(p: SqlParams, m: FileMoveSpec): string {
  if (m.stage === 'failed') throw new ExhibitError('invalid-argument', 'use failFile to fail a file');
  if (!FILE_STAGE_ORDER.includes(m.stage)) throw new ExhibitError('invalid-argument', `unknown stage ${String(m.stage)}`);
  const id = p.add(m.fileId);
  const stage = p.add(m.stage);
  const set = [`stage = ${stage}`];
  if (m.sha256 !== undefined) set.push(`sha256 = COALESCE(f.sha256, ${p.add(m.sha256.toLowerCase())})`);
  if (m.size !== undefined) set.push(`size = COALESCE(f.size, ${p.add(m.size)}::bigint)`);
  if (m.source !== undefined) {
    set.push(`source_name = CASE WHEN f.source_container IS NULL THEN ${p.add(m.source.name)} ELSE f.source_name END`);
    set.push(`source_offset = CASE WHEN f.source_container IS NULL THEN ${p.add(m.source.offset ?? null)}::bigint ELSE f.source_offset END`);
    set.push(`source_container = COALESCE(f.source_container, ${p.add(m.source.container)})`);
  }
  const flags = uniqueFlags(m.flags);
  if (flags.length > 0) set.push(`flags = ${addFlagsSql('f.flags', p.add(flags))}`);
  if (m.unpack !== undefined) {
    const unpack = p.add(m.unpack);
    set.push(`unpack = CASE WHEN ${unpackRankSql('f.unpack')} < ${unpackRank(m.unpack)} THEN ${unpack} ELSE f.unpack END`);
  }
  set.push('updated_at = now()');
  const evidence = m.evidence ? ` AND case_id = ${p.add(m.evidence.caseId)} AND evidence_id = ${p.add(m.evidence.evidenceId)}` : '';
  return `before AS (
      SELECT file_id, stage AS old_stage FROM files WHERE file_id = ${id}${evidence} FOR UPDATE
    ), moved AS (
      UPDATE files f SET ${set.join(', ')}
        FROM before
       WHERE f.file_id = before.file_id AND before.old_stage <> 'failed'
         AND array_position(${STAGE_ORDER_SQL}, before.old_stage) <= array_position(${STAGE_ORDER_SQL}, ${stage}::text)${m.onlyIf ? `
         AND ${m.onlyIf}` : ''}
      RETURNING before.old_stage
    )`;
}

/**
 * CTE `failed`: the file fails unless it already has; the first failure wins.
 * `flags`: findings of the steps before the failing one, added with it (the
 * analyse stage writes a photo's steps in one statement; they moved the file
 * with their flags before). A file failed already gets none, as a move of one would not.
 */
export function fileFailCte(p: SqlParams, fileId: string, failure: FileFailure, options: { onlyIf?: string; flags?: readonly FileFlag[] } = {}): string {
  const flags = uniqueFlags(options.flags);
  return `failed AS (
      UPDATE files SET stage = 'failed', failure_stage = ${p.add(failure.stage)}, failure_code = ${p.add(failure.code)},
             failure_detail = ${p.add(clampDetail(failure.detail))},${flags.length > 0 ? ` flags = ${addFlagsSql('flags', p.add(flags))},` : ''} updated_at = now()
       WHERE file_id = ${p.add(fileId)} AND stage <> 'failed'${options.onlyIf ? ` AND ${options.onlyIf}` : ''}
      RETURNING file_id
    )`;
}
