-- Every insert into event_versions also lands in events, in the same query:
-- the pipeline writes once and both tables see the same rows.
CREATE MATERIALIZED VIEW IF NOT EXISTS events_mv TO events AS SELECT * FROM event_versions
