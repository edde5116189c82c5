-- Accounts, catalogue, enrollments and the registration window.
--
-- Invariants the database itself enforces (the application is not trusted to):
--   * courses.enrolled never exceeds courses.capacity (CHECK);
--   * courses.enrolled always equals the number of enrollment rows for the
--     course (statement-level triggers below keep it in step, one UPDATE per
--     statement, so a batch insert of 200 rows costs one row update);
--   * a student holds a course at most once (primary key).

CREATE TABLE students (
    -- Surrogate key used by sessions and enrollments.
    id            BIGSERIAL PRIMARY KEY,
    -- The university's student number; what students log in with.
    student_no    TEXT NOT NULL UNIQUE CHECK (length(student_no) BETWEEN 1 AND 32),
    -- Display name.
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Contact address (not used to log in).
    email         TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    -- argon2id hash in PHC string format ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- When the account was imported.
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
COMMENT ON TABLE students IS 'Students who may log in and enroll.';

CREATE TABLE courses (
    -- Surrogate key used in URLs and the queue (q:{c<id>}).
    id          BIGSERIAL PRIMARY KEY,
    -- Catalogue code, e.g. CSE3010-01 (section included); unique.
    code        TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    -- Course title.
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Lecturer's name.
    professor   TEXT NOT NULL DEFAULT '',
    -- Offering department, used as a catalogue filter.
    department  TEXT NOT NULL DEFAULT '',
    -- Credits counted against the student's term limit.
    credits     SMALLINT NOT NULL CHECK (credits BETWEEN 0 AND 30),
    -- Seats offered.
    capacity    INTEGER NOT NULL CHECK (capacity >= 0),
    -- Seats taken; maintained by the enrollment triggers, never written by hand.
    enrolled    INTEGER NOT NULL DEFAULT 0 CHECK (enrolled >= 0),
    -- Weekly meetings: [{"day":"MON","start":"09:00","end":"10:15"}, ...].
    schedule    JSONB NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(schedule) = 'array'),
    -- Bumped on every change, for caches and the admin's audit.
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT enrolled_within_capacity CHECK (enrolled <= capacity)
);
COMMENT ON TABLE courses IS 'Catalogue of course sections and their seat counts.';
CREATE INDEX courses_department_idx ON courses (department);

CREATE TABLE enrollments (
    -- Who.
    student_id  BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- Which course.
    course_id   BIGINT NOT NULL REFERENCES courses (id) ON DELETE RESTRICT,
    -- When the admission transaction committed the seat.
    enrolled_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The queue ticket that won the seat (NULL for seats granted otherwise).
    ticket      TEXT,
    PRIMARY KEY (student_id, course_id)
);
COMMENT ON TABLE enrollments IS 'Seats held: one row per (student, course).';
CREATE INDEX enrollments_course_idx ON enrollments (course_id);

CREATE TABLE registration_window (
    -- Always TRUE: the table holds at most one row.
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    -- Enrollment requests are accepted from this instant ...
    opens_at  TIMESTAMPTZ NOT NULL,
    -- ... until this one (exclusive).
    closes_at TIMESTAMPTZ NOT NULL,
    CHECK (closes_at > opens_at)
);
COMMENT ON TABLE registration_window IS 'When enrollment is open; no row means closed.';

-- Keep courses.enrolled equal to the row count, one UPDATE per statement.
CREATE FUNCTION enrollments_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c
       SET enrolled = c.enrolled + n.cnt, updated_at = now()
      FROM (SELECT course_id, count(*) AS cnt FROM inserted GROUP BY course_id) n
     WHERE c.id = n.course_id;
    RETURN NULL;
END $$;

CREATE FUNCTION enrollments_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE courses c
       SET enrolled = c.enrolled - n.cnt, updated_at = now()
      FROM (SELECT course_id, count(*) AS cnt FROM deleted GROUP BY course_id) n
     WHERE c.id = n.course_id;
    RETURN NULL;
END $$;

CREATE TRIGGER enrollments_after_insert AFTER INSERT ON enrollments
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION enrollments_count_inserted();

CREATE TRIGGER enrollments_after_delete AFTER DELETE ON enrollments
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION enrollments_count_deleted();

-- Moving an enrollment between courses or students is not a supported operation.
CREATE FUNCTION enrollments_forbid_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.student_id <> OLD.student_id OR NEW.course_id <> OLD.course_id THEN
        RAISE EXCEPTION 'enrollments cannot be moved; delete and insert instead';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER enrollments_before_update BEFORE UPDATE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION enrollments_forbid_update();
