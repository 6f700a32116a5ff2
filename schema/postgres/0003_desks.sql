-- Resolution desks, their people, and the cases they work (package desk).

-- The desk directory. A desk owns the matters of its region (a division code
-- prefix: 330681109 is 枫桥镇 and everything in it) at its tier. Desks come
-- from the directory file (source 'file', replaced on every reload) or from
-- administrators through the API (source 'api').
CREATE TABLE IF NOT EXISTS desks (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    tier       text NOT NULL CHECK (tier IN ('village', 'township', 'county', 'city')),
    region     text NOT NULL CHECK (region ~ '^[0-9]{6}([0-9]{3}){0,2}$'),
    members    text[] NOT NULL DEFAULT '{}', -- usernames of its mediators
    heads      text[] NOT NULL DEFAULT '{}', -- usernames of its heads (负责人): cards go to them
    hours      text NOT NULL DEFAULT '',     -- working hours, UTC+8: "08:30-17:30"
    webhooks   jsonb NOT NULL DEFAULT '[]',  -- group robots: [{"kind","url","secret"}]
    source     text NOT NULL DEFAULT 'api' CHECK (source IN ('file', 'api')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tier, region)
);

-- People. The jurisdiction is a region prefix: nobody sees anything outside
-- it. Passwords are argon2id hashes in the PHC string format.
CREATE TABLE IF NOT EXISTS users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name  text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('admin', 'reviewer', 'mediator', 'leader')),
    jurisdiction  text NOT NULL CHECK (jurisdiction ~ '^[0-9]{2,12}$'),
    password_hash text NOT NULL DEFAULT '',
    disabled      boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Browser sessions and machine tokens, by the SHA-256 of their secret: a
-- leaked table opens nothing.
CREATE TABLE IF NOT EXISTS sessions (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Cases. version is bumped by every change: a change made against an older
-- version is refused (409), so two people never overwrite each other.
CREATE TABLE IF NOT EXISTS cases (
    id            bigserial PRIMARY KEY,
    desk_id       text NOT NULL REFERENCES desks (id),
    first_desk_id text NOT NULL REFERENCES desks (id), -- where it was first received: the 矛盾不上交 figure
    mediator      text,                                -- username of the owner
    status        text NOT NULL CHECK (status IN ('pending', 'accepted', 'mediating', 'settled', 'terminated', 'referred')),
    level         text NOT NULL CHECK (level IN ('red', 'orange', 'yellow', 'blue')),
    kind          text NOT NULL,  -- the detector of the alert that made it
    title         text NOT NULL,
    region        text NOT NULL,
    subject       text NOT NULL DEFAULT '',
    persons       text[] NOT NULL DEFAULT '{}', -- person keys of its parties
    received_at   timestamptz NOT NULL,         -- at the current desk: its deadline counts from here
    due_at        timestamptz NOT NULL,
    paused_at     timestamptz,                  -- waiting on an outside party: the clock stands still
    warned_at     timestamptz,                  -- 将到期 told
    card          text NOT NULL DEFAULT '' CHECK (card IN ('', 'yellow', 'red')),
    escalations   integer NOT NULL DEFAULT 0,
    reopened      integer NOT NULL DEFAULT 0,
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz
);
CREATE INDEX IF NOT EXISTS cases_open_by_due ON cases (due_at) WHERE status IN ('pending', 'accepted', 'mediating');
CREATE INDEX IF NOT EXISTS cases_by_region ON cases (region text_pattern_ops);
CREATE INDEX IF NOT EXISTS cases_by_persons ON cases USING gin (persons);

-- Desks that may read a case: its desk, and the desks it was escalated from.
CREATE TABLE IF NOT EXISTS case_desks (
    case_id bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    desk_id text NOT NULL REFERENCES desks (id),
    PRIMARY KEY (case_id, desk_id)
);

-- The parties, masked for display; sealed holds the clear contact,
-- encrypted, for the mediator who owns the case.
CREATE TABLE IF NOT EXISTS case_parties (
    case_id    bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    person_key text NOT NULL,
    role       text NOT NULL DEFAULT '',
    name       text NOT NULL DEFAULT '',
    phone      text NOT NULL DEFAULT '',
    sealed     text NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, person_key)
);

-- Notes, contact records (联系记录) and progress, appended: never edited.
CREATE TABLE IF NOT EXISTS case_notes (
    id      bigserial PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author  text NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('note', 'contact', 'progress', 'evidence')),
    body    text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);

-- Moves up the ladder: who, when, why. by is '' when the clock escalated.
CREATE TABLE IF NOT EXISTS escalations (
    id        bigserial PRIMARY KEY,
    case_id   bigint NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    from_desk text NOT NULL REFERENCES desks (id),
    to_desk   text NOT NULL REFERENCES desks (id),
    by_user   text NOT NULL DEFAULT '',
    reason    text NOT NULL,
    at        timestamptz NOT NULL
);

-- Alerts' review and routing.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS desk_id text REFERENCES desks (id);
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS route_reason text NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS routed_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS routed_level text; -- an open alert whose level rose is routed again
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS case_id bigint REFERENCES cases (id);
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS dismiss_reason text CHECK (dismiss_reason IN ('false_positive', 'handled', 'duplicate'));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS reviewed_by text;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS reviewed_at timestamptz;
CREATE INDEX IF NOT EXISTS alerts_unrouted ON alerts (created_at) WHERE routed_at IS NULL;

-- The audit log: every change, written in the same transaction as the change.
CREATE TABLE IF NOT EXISTS audit_log (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text NOT NULL, -- username, or 'system' for the clock and the router
    action    text NOT NULL,
    case_id   bigint,
    alert_key text,
    desk_id   text,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_by_case ON audit_log (case_id, id) WHERE case_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_alert ON audit_log (alert_key, id) WHERE alert_key IS NOT NULL;

-- The outbox: notifications and change events, written in the same
-- transaction as the change, sent afterwards by whichever replica claims
-- them. dedup_key is unique: nobody is told the same thing twice.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    dedup_key     text NOT NULL UNIQUE,
    channel       text NOT NULL CHECK (channel IN ('webhook', 'kafka')),
    target        jsonb NOT NULL DEFAULT '{}', -- webhook: {"kind","url","secret"}; kafka: {"key"}
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    next_at       timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0,
    claimed_until timestamptz,
    sent_at       timestamptz,
    failed_at     timestamptz,
    last_error    text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;
