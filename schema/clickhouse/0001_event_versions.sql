-- Every version of every record, as received. A replayed message repeats
-- (source, id, ver) and is folded away by merges; queries that must not see
-- the fold pending use FINAL.
--
-- Each column is a file or two in every part of every insert, and on a small
-- machine opening files is what an insert costs most: what can be derived is
-- an ALIAS, persons are one JSON column beside their linking keys, and
-- "unknown" is a sentinel rather than Nullable (a null map is two more files).
-- Unknown counts and amounts are -1, unknown times are 1970-01-01 00:00:00.
CREATE TABLE IF NOT EXISTS event_versions (
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
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (source, id, ver)
