-- Matters: one row per record in its newest state, deleted ones left out.
-- Count matters here, never in event_versions or in events without FINAL.
-- `*` leaves out ALIAS columns, so the region levels are named.
CREATE VIEW IF NOT EXISTS matters AS SELECT *, province, city, township, village FROM events FINAL WHERE status != 'deleted'
