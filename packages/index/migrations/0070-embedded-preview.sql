-- The embedded EXIF preview (IFD1 JPEG) of an image, kept beside its
-- thumbnail in the derived container (docs/review-api.md, "Embedded
-- preview"): its bytes as the file stores them, so a 'preview-differs'
-- finding can be looked at with both pictures. Recorded with the thumbnail,
-- once per content; NULL when the image has none that decodes, and for
-- contents thumbnailed before this column (their preview is not made again).
ALTER TABLE contents
  ADD COLUMN preview_container text,
  ADD COLUMN preview_name      text,
  ADD CONSTRAINT contents_preview_blob_check CHECK ((preview_container IS NULL) = (preview_name IS NULL));
