-- Freed seats that do not go to whoever refreshes fastest: with no
-- waitlist to take it, a seat a student gives back is withheld for a
-- random delay (per seat, not announced) before it reopens to the queue,
-- so a cancel-then-grab hand-off between friends does not work.

ALTER TABLE courses
    -- Open-pool seats withheld now (not in `remaining`, not for admission).
    ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0 CHECK (withheld >= 0);
ALTER TABLE courses DROP CONSTRAINT pool_within_open_seats;
ALTER TABLE courses ADD CONSTRAINT pool_within_open_seats
    CHECK (pooled + withheld <= capacity - reserved);

CREATE TABLE withheld_seats (
    id         BIGSERIAL PRIMARY KEY,
    course_id  BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    -- When the seat was given back, and when it reopens.
    freed_at   TIMESTAMPTZ NOT NULL,
    release_at TIMESTAMPTZ NOT NULL,
    CHECK (release_at >= freed_at)
);
COMMENT ON TABLE withheld_seats IS 'Seats given back, reopening to the queue after a random delay.';
CREATE INDEX withheld_seats_due_idx ON withheld_seats (release_at);

ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_kind_check;
ALTER TABLE enrollment_events ADD CONSTRAINT enrollment_events_kind_check
    CHECK (kind IN ('enrolled', 'rejected', 'cancelled', 'force_added', 'force_dropped',
                    'course_changed', 'block_released',
                    'cart_enrolled', 'cart_skipped', 'lottery_drawn',
                    'waitlisted', 'waitlist_left', 'waitlist_promoted', 'waitlist_skipped',
                    'offer_made', 'offer_accepted', 'offer_declined', 'offer_expired',
                    'seat_withheld', 'seat_released'));
