-- Matters: one row per record in its newest state, deleted ones left out.
-- Count matters here, never in event_versions or in events without FINAL.
CREATE VIEW IF NOT EXISTS matters AS SELECT * FROM events FINAL WHERE status != 'deleted'
