-- What a detector's run could not compare for want of history ('' when
-- nothing), in words for centre staff: silent, not clear.
ALTER TABLE detector_runs ADD COLUMN IF NOT EXISTS note text NOT NULL DEFAULT '';

-- An alert is withdrawn when every record of its evidence was deleted
-- upstream: the reason is in the audit log (alert.withdraw).
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check
    CHECK (status IN ('open', 'confirmed', 'dismissed', 'merged', 'closed', 'withdrawn'));
