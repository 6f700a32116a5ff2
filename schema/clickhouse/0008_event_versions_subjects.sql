-- See 0007. Records ingested before this migration have no subject keys.
ALTER TABLE event_versions ADD COLUMN subjects Array(String) AFTER persons
