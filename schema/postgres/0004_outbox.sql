-- The outbox, as reliable as the rest (package desk).

-- A robot's notification names the desk's robot instead of copying its URL
-- and secret: target {"desk", "robot", "kind"}, robot being the index in
-- the desk's webhooks, resolved when the notice is sent. Existing rows —
-- sent ones too, so that no secret stays — point to the robot with the same
-- URL, or to -1 when the desk has it no more (the sender fails such a notice
-- with a clear error).
UPDATE outbox o SET target = jsonb_build_object(
        'desk', o.payload->>'desk',
        'robot', coalesce((SELECT (r.i - 1)::int FROM desks d CROSS JOIN LATERAL jsonb_array_elements(d.webhooks) WITH ORDINALITY AS r(hook, i)
                           WHERE d.id = o.payload->>'desk' AND r.hook->>'url' = o.target->>'url' ORDER BY r.i LIMIT 1), -1),
        'kind', o.target->>'kind')
    WHERE o.channel = 'webhook' AND (o.target ? 'url' OR o.target ? 'secret');
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_no_robot_address;
ALTER TABLE outbox ADD CONSTRAINT outbox_no_robot_address CHECK (NOT target ?| array['url', 'secret']);

-- A message goes out byte for byte as the change encoded it: json keeps the
-- text, where jsonb would reorder its keys and respace it.
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;

-- Events go to two topics: riskwatch.cases (reviews and case changes, all
-- so far) and riskwatch.alerts (the detectors' alerts, written with them).
-- target {"topic", "key"}.
UPDATE outbox SET target = target || '{"topic": "riskwatch.cases"}' WHERE channel = 'kafka' AND NOT target ? 'topic';
-- Events are never given up: those given up before are sent again.
UPDATE outbox SET failed_at = NULL WHERE channel = 'kafka' AND failed_at IS NOT NULL AND sent_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_unsent_events ON outbox ((target->>'topic'), id) WHERE channel = 'kafka' AND sent_at IS NULL;

-- Who holds a robot's notification while sending it (claimed_until says
-- until when): before each send a replica takes or renews its claim, and no
-- other replica can take it meanwhile.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS claimed_by text;

-- One replica at a time publishes a topic's events, in id order: the holder
-- of the topic's lease, renewed before each send.
CREATE TABLE IF NOT EXISTS outbox_leases (
    name   text PRIMARY KEY, -- 'kafka:' and the topic
    holder text NOT NULL,
    until  timestamptz NOT NULL
);
