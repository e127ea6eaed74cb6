-- Findings about a content's bytes (ContentFinding in packages/core/src/domain.ts):
-- a file nothing could identify and why, an archive appended to an image, an
-- image decoded only in part or to one flat colour, HEIF and EXIF orientation
-- that disagree. Recorded with the analysis that noticed them (identification,
-- thumbnail), once per content like the analysis itself, and shown at every
-- occurrence of the bytes in status and search results.
ALTER TABLE contents ADD COLUMN findings jsonb NOT NULL DEFAULT '[]'::jsonb
  CHECK (jsonb_typeof(findings) = 'array');
