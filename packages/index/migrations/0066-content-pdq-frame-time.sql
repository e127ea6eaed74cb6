-- Where in a video a PDQ hash was taken (docs/pdq.md, "Videos"): the time of
-- the contact-sheet frame, in milliseconds from the start. NULL for a picture
-- (frame 0, no time).
ALTER TABLE content_pdq ADD COLUMN time_ms integer CHECK (time_ms >= 0);
