import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openSqlClient } from '../src/index.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';

/**
 * Migration 0215 on contents described before video header times were kept
 * as written: a QuickTime/MP4 movie header time stored as UTC (offset 0, a
 * UTC instant) loses its instant and offset, so it reads as local like a new
 * row and leaves the "offset recorded" filter; a zoned time (Apple's
 * creationdate), a Matroska DateUTC and an image's EXIF +00:00 stay.
 */
const header = (source: string, local = '2023-05-01T10:20:30.000000') => ({ local, offsetMinutes: 0, utc: `${local}Z`, source });

const rows = {
  camera: { mime: 'video/mp4', kind: 'video', takenAt: header('QuickTime:CreateDate'), captureTimes: [header('QuickTime:CreateDate'), header('QuickTime:MediaCreateDate')] },
  oldTrack: { mime: 'video/quicktime', kind: 'video', takenAt: header('QuickTime:TrackCreateDate') },
  oldPath: { mime: 'video/mp4', kind: 'video', takenAt: header('format.tags.creation_time') },
  matroska: { mime: 'video/x-matroska', kind: 'video', takenAt: header('format.tags.creation_time') },
  iphone: {
    mime: 'video/quicktime', kind: 'video',
    takenAt: { local: '2023-05-01T10:20:30', offsetMinutes: 120, utc: '2023-05-01T08:20:30Z', source: 'QuickTime:CreationDate' },
    captureTimes: [{ local: '2023-05-01T10:20:30', offsetMinutes: 120, utc: '2023-05-01T08:20:30Z', source: 'QuickTime:CreationDate' }, header('QuickTime:CreateDate', '2023-05-01T08:20:30')],
  },
  image: { mime: 'image/jpeg', kind: 'image', takenAt: { local: '2023-05-01T10:20:30', offsetMinutes: 0, utc: '2023-05-01T10:20:30Z', source: 'EXIF:DateTimeOriginal' } },
} as const;

describe.each(allTargets())('migration 0215 on $name', (target) => {
  afterAll(() => target.dispose());

  it('regression: old-video-rows-keep-header-time-as-utc — old rows with a movie header time as UTC read as local; zoned times stay', async () => {
    // Each database its own directory: the first copies 0215 in.
    const migrations = partialMigrations('migrate-0215');
    afterAll(() => migrations.dispose());
    migrations.add((m) => m < '0215');
    const sql = await openSqlClient(await target.create());
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      const shas: Record<string, string> = {};
      for (const [i, [name, row]] of Object.entries(rows).entries()) {
        const sha = String(i + 1).repeat(64).slice(0, 64);
        shas[name] = sha;
        const { takenAt } = row;
        await sql.query(
          `INSERT INTO contents (sha256, md5, sha1, size, source_container, source_name, mime, kind, metadata, metadata_status,
                                 taken_at_utc, taken_at_local, taken_at_local_ts, taken_offset_minutes)
           VALUES ($1, substr($1, 1, 32), substr($1, 1, 40), 1, 'derived', 'c', $2, $3, $4::jsonb, 'done', $5, $6::text, $6::text::timestamp, $7)`,
          [sha, row.mime, row.kind, JSON.stringify(row), takenAt.utc, takenAt.local, takenAt.offsetMinutes],
        );
      }
      const read = async () => {
        const { rows: got } = await sql.query<{ sha256: string; utc: string | null; local: string | null; off: number | null; metadata: unknown }>(
          `SELECT sha256, to_char(taken_at_utc AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS utc, taken_at_local AS local, taken_offset_minutes AS off, metadata FROM contents`,
        );
        return Object.fromEntries(Object.entries(shas).map(([name, sha]) => [name, got.find((r) => r.sha256 === sha)!]));
      };
      const recorded = async () =>
        (await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM contents c WHERE c.taken_at_utc IS NOT NULL`)).rows[0]!.n;
      const before = await read();
      expect(await recorded()).toBe(6);

      migrations.add((m) => m >= '0215');
      await migrate(sql, { migrationsDir: migrations.url });
      const after = await read();
      for (const name of ['camera', 'oldTrack', 'oldPath'] as const) {
        expect(after[name], name).toMatchObject({ utc: null, off: null, local: '2023-05-01T10:20:30.000000' });
        expect((after[name]!.metadata as { takenAt: unknown }).takenAt, name).toEqual({ ...rows[name].takenAt, offsetMinutes: null, utc: null });
      }
      expect((after.camera!.metadata as { captureTimes: unknown }).captureTimes).toEqual([
        { local: '2023-05-01T10:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' },
        { local: '2023-05-01T10:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:MediaCreateDate' },
      ]);
      expect(after.oldPath!.metadata).not.toHaveProperty('captureTimes');
      for (const name of ['matroska', 'iphone', 'image'] as const) expect(after[name], name).toEqual(before[name]);
      expect(await recorded()).toBe(3);
    } finally {
      await sql.close();
    }
  });
});
