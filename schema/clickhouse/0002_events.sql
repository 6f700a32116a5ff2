-- The latest state of every record: ReplacingMergeTree keeps the row with the
-- highest ver, so the newest version wins whatever the arrival order. Merges are
-- eventual: count with FINAL (or the matters view), never plain count().
-- The sort key is the fold key, so it holds nothing a later version may change
-- (region, category); detectors prune by the monthly partitions instead.
-- The columns are event_versions' own, so that events_mv can copy rows as they are.
CREATE TABLE IF NOT EXISTS events AS event_versions
ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (source, id)
