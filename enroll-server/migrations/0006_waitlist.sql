-- Waitlists: a full course keeps an ordered list, and a freed seat goes to
-- its head in the same transaction that frees it — enrolled at once
-- ('auto') or offered with a deadline ('offer') — never to whoever
-- refreshes fastest.

ALTER TABLE courses
    -- off: no waitlist; auto: the head is enrolled; offer: the head is
    -- offered the seat until offer_minutes have passed.
    ADD COLUMN waitlist_mode  TEXT NOT NULL DEFAULT 'auto'
        CHECK (waitlist_mode IN ('off', 'auto', 'offer')),
    ADD COLUMN waitlist_limit INTEGER NOT NULL DEFAULT 100 CHECK (waitlist_limit BETWEEN 0 AND 10000),
    ADD COLUMN offer_minutes  INTEGER NOT NULL DEFAULT 60 CHECK (offer_minutes BETWEEN 1 AND 10080);

CREATE TABLE waitlist (
    course_id  BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- Order of arrival.
    seq        BIGSERIAL NOT NULL,
    joined_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, student_id)
);
COMMENT ON TABLE waitlist IS 'Students waiting for a seat in a full course, in order.';
CREATE INDEX waitlist_order_idx ON waitlist (course_id, seq);
CREATE INDEX waitlist_student_idx ON waitlist (student_id);

-- An offered seat is a seat: held by the student it was offered to (so it
-- is never held by nobody and never sold twice) until they accept it or
-- the offer expires.
ALTER TABLE enrollments ADD COLUMN offer_expires_at TIMESTAMPTZ;
CREATE INDEX enrollments_offer_idx ON enrollments (offer_expires_at)
    WHERE offer_expires_at IS NOT NULL;

ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_kind_check;
ALTER TABLE enrollment_events ADD CONSTRAINT enrollment_events_kind_check
    CHECK (kind IN ('enrolled', 'rejected', 'cancelled', 'force_added', 'force_dropped',
                    'course_changed', 'block_released',
                    'cart_enrolled', 'cart_skipped', 'lottery_drawn',
                    'waitlisted', 'waitlist_left', 'waitlist_promoted', 'waitlist_skipped',
                    'offer_made', 'offer_accepted', 'offer_declined', 'offer_expired'));
