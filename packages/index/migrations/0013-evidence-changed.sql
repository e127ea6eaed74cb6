-- Evidence must never change after receipt. When the blob under an upload's
-- name is seen with another ETag (overwritten) or is gone, the upload says so
-- wherever its integrity is shown, instead of still reading "verified". The
-- received record and its hashes stay as they were; these columns only add
-- what was seen since. changed_etag is '' when the blob was gone.
ALTER TABLE uploads
  ADD COLUMN changed_etag          text,
  ADD COLUMN changed_size          bigint CHECK (changed_size >= 0),
  ADD COLUMN changed_first_seen_at timestamptz,
  ADD COLUMN changed_last_seen_at  timestamptz;
