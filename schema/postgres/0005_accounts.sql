-- Sessions end when idle; API tokens expire, can be listed and revoked.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS last_seen_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS id bigserial;
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_by_id ON api_tokens (id);
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS created_by text NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS expires_at timestamptz;
-- Tokens made before expiry existed get the default life from their making.
UPDATE api_tokens SET expires_at = created_at + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
