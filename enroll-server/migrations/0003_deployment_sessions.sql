-- Which deployment this database is, and sessions that outlive Redis.

-- One row, made with the schema: Redis must hold this id (key `deployment`)
-- before it is trusted, so a Redis that served another database is never
-- read; a Redis without it has lost its data and is rebuilt from here.
CREATE TABLE deployment (
    -- Always TRUE: the table holds exactly one row.
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    -- This deployment's identity.
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    -- Signs session tokens (HMAC-SHA256), so a token this deployment issued
    -- is recognised without Redis: 244 random bits from two UUIDv4s.
    session_key BYTEA NOT NULL
                DEFAULT decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE deployment IS 'This database''s deployment id (checked against Redis) and session signing key.';
INSERT INTO deployment DEFAULT VALUES;

-- Every live session, so losing Redis's data logs nobody out: Redis holds
-- the copy requests read; this is what it is rebuilt from.
CREATE TABLE sessions (
    -- SHA-256 of the cookie's token (the token itself is never stored).
    digest     BYTEA PRIMARY KEY CHECK (length(digest) = 32),
    -- Whose.
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- When it ends by itself (the cookie's Max-Age).
    expires_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE sessions IS 'Live login sessions by token digest; Redis holds the copy requests read.';
CREATE INDEX sessions_student_idx ON sessions (student_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
