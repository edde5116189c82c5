-- The registrar's rules: students' year and department, phases, reserved
-- seat blocks, force-add over capacity, named admin accounts and the audit
-- trail of every enrollment change.
--
-- Invariants the database enforces (on top of 0001's):
--   * a block never holds more students than its seats
--     (course_blocks.enrolled <= seats);
--   * the open pool never holds more students than the seats no block
--     reserves (courses.pooled <= capacity - reserved), and blocks never
--     reserve more than the capacity;
--   * a released block keeps the students it holds; its unused seats join
--     the open pool (reserved counts a released block's students only);
--   * seats granted over capacity (an admin's force-add with a reason) are
--     counted apart and never take a seat from anyone;
--   * enrollment_events is append-only.

ALTER TABLE students
    ADD COLUMN year       SMALLINT NOT NULL DEFAULT 1 CHECK (year BETWEEN 1 AND 6),
    ADD COLUMN department TEXT NOT NULL DEFAULT '' CHECK (length(department) <= 100);
COMMENT ON COLUMN students.year IS 'Year of study, 1 to 6: phases and reserved blocks select by it.';
COMMENT ON COLUMN students.department IS 'Major department: phases and reserved blocks select by it.';

-- Phases replace the single window (which becomes one phase for everyone).
CREATE TABLE phases (
    -- The registrar's name for it ("4th years", "everyone").
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    -- Order given by the registrar (listing order only).
    position    INTEGER NOT NULL,
    opens_at    TIMESTAMPTZ NOT NULL,
    closes_at   TIMESTAMPTZ NOT NULL,
    -- Who it is for: a student must match every list given (NULL: anyone).
    years       SMALLINT[],
    departments TEXT[],
    student_nos TEXT[],
    CHECK (closes_at > opens_at)
);
COMMENT ON TABLE phases IS 'When whom may enroll: a student enrolls while a phase that includes them is open.';
INSERT INTO phases (name, position, opens_at, closes_at)
    SELECT 'registration', 0, opens_at, closes_at FROM registration_window;
DROP TABLE registration_window;

ALTER TABLE courses
    -- Seats held back for blocks (a released block: only its students).
    ADD COLUMN reserved      INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    -- Seats taken from the open pool.
    ADD COLUMN pooled        INTEGER NOT NULL DEFAULT 0 CHECK (pooled >= 0),
    -- Seats an admin granted over capacity (not counted in enrolled).
    ADD COLUMN over_capacity INTEGER NOT NULL DEFAULT 0 CHECK (over_capacity >= 0);
UPDATE courses SET pooled = enrolled;
ALTER TABLE courses
    ADD CONSTRAINT blocks_within_capacity CHECK (reserved <= capacity),
    ADD CONSTRAINT pool_within_open_seats CHECK (pooled <= capacity - reserved);

CREATE TABLE course_blocks (
    course_id   BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    -- Admission gives a student a seat from the first block (by position)
    -- they qualify for that has one left, else from the open pool.
    position    SMALLINT NOT NULL,
    seats       INTEGER NOT NULL CHECK (seats >= 0),
    -- Students holding a seat from this block; kept by the triggers.
    enrolled    INTEGER NOT NULL DEFAULT 0 CHECK (enrolled >= 0),
    -- Who qualifies: every list given must match (NULL: anyone).
    departments TEXT[],
    years       SMALLINT[],
    -- When its unused seats join the open pool (NULL: never).
    release_at  TIMESTAMPTZ,
    -- When that happened.
    released_at TIMESTAMPTZ,
    PRIMARY KEY (course_id, name),
    CONSTRAINT block_enrolled_within_seats CHECK (enrolled <= seats)
);
COMMENT ON TABLE course_blocks IS 'Seats of a course reserved for departments or years.';
CREATE INDEX course_blocks_due_idx ON course_blocks (release_at)
    WHERE released_at IS NULL AND release_at IS NOT NULL;

ALTER TABLE enrollments
    -- The block the seat came from (NULL: the open pool, or over capacity).
    ADD COLUMN block         TEXT,
    -- Granted by an admin beyond the capacity.
    ADD COLUMN over_capacity BOOLEAN NOT NULL DEFAULT FALSE,
    ADD CONSTRAINT over_capacity_has_no_block CHECK (NOT (over_capacity AND block IS NOT NULL)),
    ADD CONSTRAINT enrollments_block_fkey FOREIGN KEY (course_id, block)
        REFERENCES course_blocks (course_id, name) ON DELETE RESTRICT ON UPDATE RESTRICT;
CREATE INDEX enrollments_block_idx ON enrollments (course_id, block) WHERE block IS NOT NULL;

-- One UPDATE of courses and at most one of course_blocks per statement.
CREATE OR REPLACE FUNCTION enrollments_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c
       SET enrolled = c.enrolled + n.seated, pooled = c.pooled + n.pooled,
           over_capacity = c.over_capacity + n.over, updated_at = now()
      FROM (SELECT course_id,
                   count(*) FILTER (WHERE NOT over_capacity) AS seated,
                   count(*) FILTER (WHERE block IS NULL AND NOT over_capacity) AS pooled,
                   count(*) FILTER (WHERE over_capacity) AS over
              FROM inserted GROUP BY course_id) n
     WHERE c.id = n.course_id;
    UPDATE course_blocks b
       SET enrolled = b.enrolled + n.cnt
      FROM (SELECT course_id, block, count(*) AS cnt FROM inserted
             WHERE block IS NOT NULL GROUP BY course_id, block) n
     WHERE b.course_id = n.course_id AND b.name = n.block;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION enrollments_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c
       SET enrolled = c.enrolled - n.seated, pooled = c.pooled - n.pooled,
           over_capacity = c.over_capacity - n.over, updated_at = now()
      FROM (SELECT course_id,
                   count(*) FILTER (WHERE NOT over_capacity) AS seated,
                   count(*) FILTER (WHERE block IS NULL AND NOT over_capacity) AS pooled,
                   count(*) FILTER (WHERE over_capacity) AS over
              FROM deleted GROUP BY course_id) n
     WHERE c.id = n.course_id;
    UPDATE course_blocks b
       SET enrolled = b.enrolled - n.cnt
      FROM (SELECT course_id, block, count(*) AS cnt FROM deleted
             WHERE block IS NOT NULL GROUP BY course_id, block) n
     WHERE b.course_id = n.course_id AND b.name = n.block;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION enrollments_forbid_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.student_id <> OLD.student_id OR NEW.course_id <> OLD.course_id
       OR NEW.block IS DISTINCT FROM OLD.block OR NEW.over_capacity <> OLD.over_capacity THEN
        RAISE EXCEPTION 'enrollments cannot be moved; delete and insert instead';
    END IF;
    RETURN NEW;
END $$;

-- courses.reserved follows its blocks: an open block holds back its seats,
-- a released one only the students it has.
CREATE FUNCTION course_blocks_reserve() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    course BIGINT := CASE WHEN TG_OP = 'DELETE' THEN OLD.course_id ELSE NEW.course_id END;
BEGIN
    UPDATE courses c
       SET reserved = (SELECT coalesce(sum(CASE WHEN b.released_at IS NULL THEN b.seats ELSE b.enrolled END), 0)
                         FROM course_blocks b WHERE b.course_id = course),
           updated_at = now()
     WHERE c.id = course;
    RETURN NULL;
END $$;

CREATE TRIGGER course_blocks_after_insert_or_delete AFTER INSERT OR DELETE ON course_blocks
    FOR EACH ROW EXECUTE FUNCTION course_blocks_reserve();
-- A seat taken in an open block changes nothing reserved: no course update.
CREATE TRIGGER course_blocks_after_update AFTER UPDATE ON course_blocks
    FOR EACH ROW
    WHEN (OLD.seats <> NEW.seats OR OLD.released_at IS DISTINCT FROM NEW.released_at
          OR (NEW.released_at IS NOT NULL AND OLD.enrolled <> NEW.enrolled))
    EXECUTE FUNCTION course_blocks_reserve();

-- Named admin accounts; the bootstrap token stays for the first account and
-- for automation.
CREATE TABLE admins (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    -- argon2id, as for students.
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- registrar: reads and changes; viewer: reads only.
    role          TEXT NOT NULL CHECK (role IN ('registrar', 'viewer')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Who created it (an admin's username, or "token").
    created_by    TEXT NOT NULL
);
COMMENT ON TABLE admins IS 'Registrar office accounts.';

CREATE TABLE admin_sessions (
    -- SHA-256 of the bearer token (the token itself is never stored).
    digest     BYTEA PRIMARY KEY CHECK (length(digest) = 32),
    admin_id   BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
COMMENT ON TABLE admin_sessions IS 'Live admin sessions by token digest.';
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);

-- Every enrollment change, written in the transaction that makes it.
CREATE TABLE enrollment_events (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    kind        TEXT NOT NULL CHECK (kind IN ('enrolled', 'rejected', 'cancelled', 'force_added',
                                              'force_dropped', 'course_changed', 'block_released')),
    -- Whose seat (no foreign keys: the record outlives what it names).
    student_id  BIGINT,
    course_id   BIGINT,
    -- The queue ticket decided (enrolled, rejected).
    ticket      TEXT,
    -- Why: the rejection's code, or the admin's words.
    reason      TEXT,
    -- Who made the change.
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('student', 'admin', 'system')),
    -- The admin's username ("token" for the bootstrap token).
    actor       TEXT,
    -- Where the request came from, when a request made the change.
    source_addr INET,
    -- The block the seat came from or went back to; over capacity.
    block       TEXT,
    -- What changed, for course changes (before and after).
    detail      JSONB
);
COMMENT ON TABLE enrollment_events IS 'Append-only audit trail of every enrollment change.';
-- A ticket is decided once: a retried batch finds the first decision.
CREATE UNIQUE INDEX enrollment_events_ticket_idx ON enrollment_events (ticket)
    WHERE kind IN ('enrolled', 'rejected');
CREATE INDEX enrollment_events_student_idx ON enrollment_events (student_id, id);
CREATE INDEX enrollment_events_course_idx ON enrollment_events (course_id, id);

CREATE FUNCTION enrollment_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'enrollment_events is append-only';
END $$;
CREATE TRIGGER enrollment_events_no_update BEFORE UPDATE OR DELETE ON enrollment_events
    FOR EACH ROW EXECUTE FUNCTION enrollment_events_append_only();
CREATE TRIGGER enrollment_events_no_truncate BEFORE TRUNCATE ON enrollment_events
    FOR EACH STATEMENT EXECUTE FUNCTION enrollment_events_append_only();
