-- Where in a video a PDQ hash was taken (docs/pdq.md, "Videos"): the time of
-- the contact-sheet frame, in milliseconds from the start. NULL for a picture
-- (frame 0, no time).
ALTER TABLE content_pdq ADD COLUMN time_ms integer CHECK (time_ms >= 0);

-- The PDQ backfill (docs/pdq.md, "Backfill"): contents thumbnailed before PDQ
-- existed are hashed again from their original bytes, once. A content the
-- job has tried is marked, with the reason when it got no hash (a damaged
-- picture, a video whose frames cannot be taken), so the job never tries it
-- twice and a resumed run carries on with the contents not yet tried.
ALTER TABLE contents ADD COLUMN pdq_backfilled_at timestamptz;
ALTER TABLE contents ADD COLUMN pdq_backfill_failure text;
CREATE INDEX contents_pdq_backfill_idx ON contents (sha256)
  WHERE pdq_backfilled_at IS NULL AND thumbnail_status = 'done' AND kind IN ('image', 'video');
