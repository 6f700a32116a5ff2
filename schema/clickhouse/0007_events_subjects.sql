-- Subject keys (package pipeline/subject): what a matter is about, so that
-- detectors can meet differently worded records about one employer, estate,
-- project or village's land. events first: events_mv copies event_versions'
-- columns by name, so the target must have the column before the source.
ALTER TABLE events ADD COLUMN subjects Array(String) AFTER persons
