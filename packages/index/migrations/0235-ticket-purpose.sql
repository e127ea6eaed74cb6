-- What a ticket may be used for. A download link's ticket (GET …/download)
-- is redeemed only by GET …/content, which serves the file as an attachment;
-- a playback link's ticket (GET …/playback-link) only by GET …/playback, which
-- serves identified video/audio inline. Without this a ticket issued for one
-- route was accepted by the other, so a playback link also fetched the file
-- as a download and the other way round.
--
-- Tickets issued before this migration were all download links (the playback
-- route came with it), so existing rows take 'download'.
ALTER TABLE download_tickets
  ADD COLUMN purpose text NOT NULL DEFAULT 'download' CHECK (purpose IN ('download', 'playback'));
