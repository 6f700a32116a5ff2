-- The run ledger: one row per detector and event-time window. A replica
-- claims a window by inserting its row (or taking over a stale or failed
-- one), so one executor runs each window; done windows are never run again
-- by the scheduler; gap records a window it gave up on.
CREATE TABLE IF NOT EXISTS detector_runs (
    detector     text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    status       text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'gap')),
    claimed_by   text NOT NULL DEFAULT '',
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    alerts       integer NOT NULL DEFAULT 0,
    error        text NOT NULL DEFAULT '',
    PRIMARY KEY (detector, window_start)
);
