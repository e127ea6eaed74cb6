-- A QuickTime/MP4 movie or media header time (mvhd/mdhd) was read as UTC:
-- the format says so and ffprobe prints it with a Z, but many cameras write
-- their local wall clock there, so a camera's 10:20 local became 10:20 UTC, a
-- wrong instant stated as fact. Since this version the metadata stage keeps
-- it as written with no offset and no UTC (as exiftool shows it by default),
-- unless a time that states its zone names the same instant. Contents whose
-- capture time an earlier version took from such a header (no zoned time was
-- found then, or it would have come first) still have its UTC in the search
-- columns and the metadata; this clears the instant and the offset so they
-- read as local like new rows: the wall clock stays, and the "offset
-- recorded" filter (taken_at_utc IS NOT NULL) no longer counts them.
-- Sources: the names since 8ef5edb (QuickTime:CreateDate, the track's
-- QuickTime:TrackCreateDate, later QuickTime:MediaCreateDate), and before it
-- ffprobe's tag paths, which were used for every container: those only in a
-- QuickTime/MP4 file (a Matroska DateUTC is defined as UTC and stays).
WITH header AS (
  SELECT sha256
    FROM contents
   WHERE jsonb_typeof(metadata -> 'takenAt') = 'object'
     AND metadata -> 'takenAt' -> 'offsetMinutes' = '0'::jsonb
     AND (metadata -> 'takenAt' ->> 'source' IN ('QuickTime:CreateDate', 'QuickTime:TrackCreateDate', 'QuickTime:MediaCreateDate')
          OR (metadata -> 'takenAt' ->> 'source' ~ '^(format|streams\[[0-9]+\])\.tags\.creation_time$'
              AND mime IN ('video/quicktime', 'video/mp4', 'video/3gpp', 'video/3gpp2', 'video/x-m4v')))
)
UPDATE contents c
   SET taken_at_utc = NULL,
       taken_offset_minutes = NULL,
       metadata = CASE WHEN jsonb_typeof(t.metadata -> 'captureTimes') = 'array' THEN
         jsonb_set(t.metadata, '{captureTimes}',
           (SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e.t) = 'object'
                                             AND e.t -> 'offsetMinutes' = '0'::jsonb
                                             AND (e.t ->> 'source' IN ('QuickTime:CreateDate', 'QuickTime:TrackCreateDate', 'QuickTime:MediaCreateDate')
                                                  OR e.t ->> 'source' ~ '^(format|streams\[[0-9]+\])\.tags\.creation_time$')
                                           THEN e.t || '{"offsetMinutes": null, "utc": null}'::jsonb ELSE e.t END ORDER BY e.i), '[]'::jsonb)
              FROM jsonb_array_elements(t.metadata -> 'captureTimes') WITH ORDINALITY AS e (t, i)))
         ELSE t.metadata END
  FROM (SELECT h.sha256,
               c0.metadata || jsonb_build_object('takenAt', (c0.metadata -> 'takenAt') || '{"offsetMinutes": null, "utc": null}'::jsonb) AS metadata
          FROM header h JOIN contents c0 ON c0.sha256 = h.sha256) t
 WHERE c.sha256 = t.sha256;
