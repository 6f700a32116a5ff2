-- The latest state of every record: ReplacingMergeTree keeps the row with the
-- highest ver, so the newest version wins whatever the arrival order. Merges are
-- eventual: count with FINAL (or the matters view), never plain count().
-- The sort key is the fold key, so it holds nothing a later version may change
-- (region, category); detectors prune by the monthly partitions instead.
-- Columns as in event_versions.
CREATE TABLE IF NOT EXISTS events (
    source          String,
    id              String,
    version         UInt32,
    ver             UInt64,
    updated_at      DateTime('UTC'),
    occurred_at     DateTime('UTC'),
    ingested_at     DateTime('UTC'),
    region          String,  -- 12-digit division code as sent, zero-padded; '' unknown
    county          String,  -- 6-digit county-level code, abolished ones mapped to their successor
    province        String ALIAS if(region = '', '', concat(substring(region, 1, 2), '0000')),
    city            String ALIAS if(region = '' OR substring(region, 3, 2) = '00', '', concat(substring(if(county = '', region, county), 1, 4), '00')),
    township        String ALIAS if(county = '' OR substring(region, 7, 3) = '000', '', substring(region, 1, 9)),
    village         String ALIAS if(county = '' OR substring(region, 7, 3) = '000' OR substring(region, 10, 3) = '000', '', region),
    grid_code       String,
    category        String,
    category_raw    String,
    tags            Array(String),
    kind            String,
    status          String,
    status_raw      String,
    channel         String,
    urgency         UInt8,
    handle_unit     String,
    register_org    String,
    register_level  String,
    accepted_at     DateTime('UTC'),
    deadline        DateTime('UTC'),
    finished_at     DateTime('UTC'),
    satisfaction    UInt8,
    answer_rejected UInt8,
    head_count      Int32,
    petitioner_count Int32,
    amount          Float64,
    collective      UInt8,
    repeat          UInt8,
    repeat_num      UInt16,
    skip_level      UInt8,
    self_resolved   UInt8,
    title           String,
    text            String,
    reply           String,
    address         String,
    lng             Float64,
    lat             Float64,
    person_keys     Array(String), -- keyed hashes of the persons' ID and phone numbers, for linking
    persons         String,        -- JSON: [{"role","name","phone","phone_key","id_key","sealed"}], masked and sealed
    warnings        Array(String),
    topic           String,
    partition       Int32,
    offset          Int64
) ENGINE = ReplacingMergeTree(ver)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (source, id)
