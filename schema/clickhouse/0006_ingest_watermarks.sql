-- How far ingestion has got on each partition, written after each committed
-- batch: the next offset to read and the newest updateTime seen. Detectors
-- wait for every partition to pass a window's end before evaluating it.
CREATE TABLE IF NOT EXISTS ingest_watermarks (
    topic       String,
    partition   Int32,
    next_offset UInt64,
    event_time  DateTime('UTC'),
    written_at  DateTime('UTC')
) ENGINE = ReplacingMergeTree(next_offset)
ORDER BY (topic, partition)
