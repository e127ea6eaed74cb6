-- The blobs a disk image was read from, in order (docs/disk-images.md, "Split
-- images"): one entry for an image in one blob, one per segment for a split
-- image uploaded as one evidence item (card.E01, card.E02 …). Each entry is
-- {name, size, etag}: the blob name, its size and the ETag every read of it
-- was pinned to. Rows recorded before this migration have none ('[]').
ALTER TABLE disk_images ADD COLUMN segments jsonb NOT NULL DEFAULT '[]';
