-- Archive members that are links (symlink, hardlink) record the target named in
-- the archive: evidence of what the device held, never followed.
ALTER TABLE files ADD COLUMN link_target text;
