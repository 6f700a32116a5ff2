-- Alerts and their workflow state. key is derived from the detector, the
-- scope and the event-time window, so re-running a window finds its alert
-- again; the partial unique index keeps one open alert per scope, under any
-- number of replicas.
CREATE TABLE IF NOT EXISTS alerts (
    key          text PRIMARY KEY,
    scope_key    text NOT NULL,
    detector     text NOT NULL,
    level        text NOT NULL CHECK (level IN ('red', 'orange', 'yellow', 'blue')),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'confirmed', 'dismissed', 'merged', 'closed')),
    region       text NOT NULL DEFAULT '',
    category     text NOT NULL DEFAULT '',
    subject      text NOT NULL DEFAULT '',
    person       text NOT NULL DEFAULT '',
    labels       jsonb NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    summary      text NOT NULL,
    numbers      jsonb NOT NULL DEFAULT '{}',
    words        text[] NOT NULL DEFAULT '{}',
    evidence     jsonb NOT NULL DEFAULT '[]',
    previous_key text REFERENCES alerts (key),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open_per_scope ON alerts (scope_key) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (created_at DESC, key);
CREATE INDEX IF NOT EXISTS alerts_by_region ON alerts (region text_pattern_ops);
