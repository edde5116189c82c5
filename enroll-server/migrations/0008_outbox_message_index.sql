-- A change enters mail_outbox_message_idx when the sender puts it into a
-- message, not when admission writes it: admission's transaction, the
-- rush's critical path, maintains one index fewer per seat. Every lookup
-- by message (the digest's changes, the parked list, ON DELETE CASCADE
-- from mail_messages) compares message_id with a value, so it never needs
-- the rows without one.

DROP INDEX mail_outbox_message_idx;
CREATE INDEX mail_outbox_message_idx ON mail_outbox (message_id) WHERE message_id IS NOT NULL;
