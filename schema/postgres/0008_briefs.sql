-- The leaders' briefs made on schedule (package brief): one per region,
-- kind of period and period, so that replicas making the same brief store
-- it, and announce it, once. Figures only: no person.
CREATE TABLE IF NOT EXISTS briefs (
    region      text NOT NULL,         -- division code prefix: 330681, 3306
    kind        text NOT NULL CHECK (kind IN ('day', 'week', 'month', 'business')),
    period_from timestamptz NOT NULL,
    period_to   timestamptz NOT NULL,
    made_at     timestamptz NOT NULL,
    made_by     text NOT NULL DEFAULT '', -- the replica's host name
    brief       jsonb NOT NULL,           -- the figures (brief.Brief)
    html        text NOT NULL,            -- as printed
    PRIMARY KEY (region, kind, period_from)
);
