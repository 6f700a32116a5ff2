-- An alert lists the first of its evidence records and counts them all:
-- evidence_seen holds a 64-bit fingerprint of every record (source/id) it
-- ever named, so a record named again by a later window is not counted
-- twice, while the list stays small enough to read.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS evidence_count integer NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS evidence_seen bigint[] NOT NULL DEFAULT '{}';
UPDATE alerts SET evidence_count = jsonb_array_length(evidence) WHERE evidence_count = 0;
