-- Size order by keyset (issue 13): a cursor page, and a jump from the review
-- summary's position index (migration 0110), of sort=size is the range after
-- (size, fileId). Without an index holding both, such a page read every file
-- of the case and sorted the rest (a case's files often share a few sizes:
-- one tie group can be most of the case). The first page already ordered by
-- (size, file_id); this index gives that order as it is, either way.
CREATE INDEX files_case_size_idx ON files (case_id, size, file_id);
