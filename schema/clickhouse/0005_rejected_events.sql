-- Quarantine: messages that could not be decoded or validated, with where they
-- came from and why. The raw bytes hold personal data in clear, so they are
-- kept sealed (AES-GCM, the PII key): `riskwatch quarantine` opens them. A
-- replay repeats (topic, partition, offset) and is folded away.
CREATE TABLE IF NOT EXISTS rejected_events (
    topic         String,
    partition     Int32,
    offset        Int64,
    source        String,
    key           String,
    value_sealed  String,
    header_keys   Array(String),
    header_values Array(String),
    reason        String,
    received_at   DateTime('UTC')
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (topic, partition, offset)
