-- A GPS position of 0,0 is a receiver without a fix, not a place in the Gulf of
-- Guinea. Since this version the metadata stage keeps such a position as
-- recorded but flagged (gpsRecorded, flag gps-null-island) and never as a
-- location, so it is not in gps_lat/gps_lon and does not count for has-GPS or
-- a bounding box. Contents described by an earlier version still have it in
-- the search columns; this takes it out of them. Their metadata JSON keeps
-- what was recorded until they are reprocessed.
UPDATE contents SET gps_lat = NULL, gps_lon = NULL WHERE gps_lat = 0 AND gps_lon = 0;
