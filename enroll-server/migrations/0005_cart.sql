-- The pre-registration cart (장바구니): students put courses in a cart during
-- the cart period; when it closes, one run enrolls everybody in each course
-- whose cart demand fits its seats, and the registrar's policy decides the
-- rest (left to the rush, or a seeded lottery anyone can re-run).

CREATE TABLE cart_period (
    -- Always TRUE: the table holds at most one row.
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    opens_at   TIMESTAMPTZ NOT NULL,
    closes_at  TIMESTAMPTZ NOT NULL,
    -- Over-demanded courses at close: 'rush' leaves them to the queue,
    -- 'lottery' draws their seats.
    policy     TEXT NOT NULL DEFAULT 'rush' CHECK (policy IN ('rush', 'lottery')),
    -- The lottery's seed, published with the draw.
    seed       BIGINT NOT NULL,
    -- When the close run committed (NULL: not yet).
    settled_at TIMESTAMPTZ,
    CHECK (closes_at > opens_at)
);
COMMENT ON TABLE cart_period IS 'When students fill their carts, and what happens at close.';

CREATE TABLE cart_items (
    student_id BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    course_id  BIGINT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (student_id, course_id)
);
COMMENT ON TABLE cart_items IS 'Courses students want, before registration opens.';
CREATE INDEX cart_items_course_idx ON cart_items (course_id);

-- The cart's outcomes join the audit trail.
ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_kind_check;
ALTER TABLE enrollment_events ADD CONSTRAINT enrollment_events_kind_check
    CHECK (kind IN ('enrolled', 'rejected', 'cancelled', 'force_added', 'force_dropped',
                    'course_changed', 'block_released',
                    'cart_enrolled', 'cart_skipped', 'lottery_drawn'));
