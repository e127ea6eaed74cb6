import type { AnalysisWrite, FileFailure } from '@exhibit/core';
import { searchColumns } from './index-store.columns.js';
import { clampDetail, toJson } from './index-store.rows.js';
import type { SqlParams } from './index-store.transitions.js';

type Part = 'identify' | 'metadata' | 'thumbnail';

/**
 * The CTEs `due` and `analysis` of IndexStore.setAnalysis: one UPDATE of the
 * content for every part given (PostgreSQL lets one statement change a row
 * once). `due` locks the row and reads which parts are still open: kind not
 * recorded (identify), metadata pending, thumbnail pending; false for a part
 * not given. Of two concurrent writers, the second waits for the lock and
 * reads the first's result, as its separate UPDATE's WHERE would have. Each
 * column a part sets takes the part's value where that part is due and keeps
 * its own otherwise, so the row ends as the parts' own
 * `UPDATE ... WHERE <condition>` statements, run in step order, left it:
 * findings appended identify first, then thumbnail; the first failure on the
 * content kept (metadata's before thumbnail's); each part's tools under its
 * step. `analysis` returns a row only when some part was due, with whether
 * the thumbnail was (its PDQ hashes go in only then).
 */
export function analysisCtes(p: SqlParams, sha256Param: string, results: AnalysisWrite): string[] {
  const { identification: id, metadata: meta, thumbnail: thumb } = results;
  const sets: string[] = [];
  const findings: string[] = [];
  const tools: string[] = [];
  const failures: Array<{ part: Part; failure: FileFailure }> = [];
  /** `column = value` where the part is due, else the column as it is. */
  const set = (part: Part, column: string, value: unknown, cast = '') => `${column} = CASE WHEN due.${part} THEN ${p.add(value)}${cast} ELSE c.${column} END`;
  /** What a due part appends to a jsonb column (nothing when it is not due). */
  const append = (part: Part, json: string, empty: '[]' | '{}') => `CASE WHEN due.${part} THEN ${json} ELSE '${empty}'::jsonb END`;
  const toolsOf = (part: Part, list: unknown) => append(part, `jsonb_build_object('${part}', ${p.add(toJson(list))}::jsonb)`, '{}');

  if (id) {
    sets.push(set('identify', 'mime', id.mime), set('identify', 'detected_ext', id.detectedExt), set('identify', 'kind', id.kind));
    findings.push(append('identify', `${p.add(toJson(id.findings ?? []))}::jsonb`, '[]'));
    tools.push(toolsOf('identify', id.tools));
  }
  if (meta) {
    const s = searchColumns(meta.metadata);
    sets.push(
      set('metadata', 'metadata_status', meta.status),
      set('metadata', 'metadata', meta.metadata === null ? null : toJson(meta.metadata), '::jsonb'),
      set('metadata', 'taken_at_utc', s.takenAtUtc, '::timestamptz'),
      set('metadata', 'taken_at_local', s.takenAtLocal),
      set('metadata', 'taken_at_local_ts', s.takenAtLocalTs, '::timestamp'),
      set('metadata', 'taken_offset_minutes', s.takenOffsetMinutes, '::integer'),
      set('metadata', 'gps_lat', s.gpsLat, '::double precision'),
      set('metadata', 'gps_lon', s.gpsLon, '::double precision'),
      set('metadata', 'make', s.make),
      set('metadata', 'model', s.model),
      set('metadata', 'duration_sec', s.durationSec, '::double precision'),
      set('metadata', 'width', s.width, '::integer'),
      set('metadata', 'height', s.height, '::integer'),
    );
    // Audio has no thumbnail step: its thumbnail is 'n/a' with its metadata, not pending forever (setAnalysis
    // refuses a thumbnail part beside it).
    if (meta.noThumbnail) sets.push(`thumbnail_status = CASE WHEN due.metadata AND c.thumbnail_status = 'pending' THEN 'n/a' ELSE c.thumbnail_status END`);
    tools.push(toolsOf('metadata', meta.tools));
    if (meta.failure) failures.push({ part: 'metadata', failure: meta.failure });
  }
  if (thumb) {
    sets.push(
      set('thumbnail', 'thumbnail_status', thumb.status),
      set('thumbnail', 'thumbnail_container', thumb.blob?.container ?? null),
      set('thumbnail', 'thumbnail_name', thumb.blob?.name ?? null),
      set('thumbnail', 'thumbnail_source', thumb.source),
      set('thumbnail', 'preview_container', thumb.preview?.container ?? null),
      set('thumbnail', 'preview_name', thumb.preview?.name ?? null),
    );
    findings.push(append('thumbnail', `${p.add(toJson(thumb.findings ?? []))}::jsonb`, '[]'));
    tools.push(toolsOf('thumbnail', thumb.tools));
    if (thumb.failure) failures.push({ part: 'thumbnail', failure: thumb.failure });
  }
  if (findings.length > 0) sets.push(`findings = c.findings || ${findings.join(' || ')}`);
  sets.push(`tools = c.tools || ${tools.join(' || ')}`);
  if (failures.length > 0) {
    // The three columns are set together, from the first due part's failure, and only where none is recorded.
    const column = (name: string, value: (f: FileFailure) => unknown) =>
      `${name} = COALESCE(c.${name}, ${failures.map((f) => `CASE WHEN due.${f.part} THEN ${p.add(value(f.failure))} END`).join(', ')})`;
    sets.push(column('failure_stage', (f) => f.stage), column('failure_code', (f) => f.code), column('failure_detail', (f) => clampDetail(f.detail)));
  }
  sets.push('updated_at = now()');
  const given = ([id && 'identify', meta && 'metadata', thumb && 'thumbnail'] as const).filter((x): x is Part => typeof x === 'string');
  return [
    `due AS (
      SELECT sha256,
             ${id ? 'kind IS NULL' : 'false'} AS identify,
             ${meta ? "metadata_status = 'pending'" : 'false'} AS metadata,
             ${thumb ? "thumbnail_status = 'pending'" : 'false'} AS thumbnail
        FROM contents WHERE sha256 = ${sha256Param}
         FOR UPDATE
    )`,
    `analysis AS (
      UPDATE contents c SET
             ${sets.join(',\n             ')}
        FROM due
       WHERE c.sha256 = due.sha256 AND (${given.map((part) => `due.${part}`).join(' OR ')})
      RETURNING due.thumbnail
    )`,
  ];
}
