-- Mail to students about their enrollments, through an outbox.
--
-- Invariants:
--   * a change is written to mail_outbox in the same transaction as the
--     change itself (admission's batch, a cancel), so a committed change is
--     never left unannounced and a rolled-back one is never announced;
--   * each change goes into at most one message (mail_outbox.message_id is
--     set once, when the sender groups a student's changes into a digest);
--   * a message is sent under its own id, so the Message-ID header a retry
--     or a crash-resend carries is always the same.

-- The language a student's mail is written in.
ALTER TABLE students
    ADD COLUMN mail_language TEXT NOT NULL DEFAULT 'ko' CHECK (mail_language IN ('ko', 'en'));
COMMENT ON COLUMN students.mail_language IS 'Language of the mail the student gets: ko (default) or en.';

CREATE TABLE mail_messages (
    -- The message's identity; its Message-ID is built from it and created_at.
    id              BIGSERIAL PRIMARY KEY,
    -- Recipient (the address is read when the message is sent).
    student_id      BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- When the sender grouped the changes into this message.
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the oldest change in it was committed: what "oldest unsent" measures.
    first_change_at TIMESTAMPTZ NOT NULL,
    -- pending: to be sent (now or at next_attempt_at); sent; parked: refused
    -- for good by the mail server (or out of attempts), waiting for an operator.
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'parked')),
    -- Sending attempts started (a claim counts as one).
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- A pending message is not claimed before this instant (retry backoff).
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The sender instance that claimed it, and until when its claim holds;
    -- once it has passed, another instance may claim the message again.
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ,
    -- The mail server's last refusal (reply code and text) or the network
    -- error, for the operator; may name the address, so it is never logged.
    last_error      TEXT,
    sent_at         TIMESTAMPTZ,
    parked_at       TIMESTAMPTZ,
    -- Who re-queued a parked message last, and when (admin endpoint).
    requeued_by     TEXT,
    requeued_at     TIMESTAMPTZ
);
COMMENT ON TABLE mail_messages IS 'Mail to send: one digest of a student''s changes each.';
CREATE INDEX mail_messages_due_idx ON mail_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX mail_messages_parked_idx ON mail_messages (id) WHERE state = 'parked';
CREATE INDEX mail_messages_student_idx ON mail_messages (student_id);

CREATE TABLE mail_outbox (
    -- Order of the changes; a digest lists them in this order.
    id          BIGSERIAL PRIMARY KEY,
    -- Whose enrollment changed.
    student_id  BIGINT NOT NULL REFERENCES students (id) ON DELETE CASCADE,
    -- Which course (courses are never deleted while enrollments refer to them).
    course_id   BIGINT NOT NULL,
    -- What happened: enrolled (admission), cancelled (the student), added or
    -- dropped (an admin's force-add or drop).
    change      TEXT NOT NULL CHECK (change IN ('enrolled', 'cancelled', 'added', 'dropped')),
    -- When the change's transaction started.
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The message this change went into; NULL until the sender groups it.
    message_id  BIGINT REFERENCES mail_messages (id) ON DELETE CASCADE
);
COMMENT ON TABLE mail_outbox IS 'Enrollment changes to announce, written in the change''s own transaction.';
CREATE INDEX mail_outbox_unsealed_idx ON mail_outbox (created_at) WHERE message_id IS NULL;
CREATE INDEX mail_outbox_student_unsealed_idx ON mail_outbox (student_id) WHERE message_id IS NULL;
CREATE INDEX mail_outbox_message_idx ON mail_outbox (message_id);
