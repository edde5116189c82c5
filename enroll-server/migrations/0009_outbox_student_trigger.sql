-- Every change in mail_outbox is written in the transaction that makes it,
-- next to the enrollment row it announces (inserted or deleted by that
-- transaction, with the student's row locked), so the outbox's own foreign
-- key to students looked the same student up a second time for every seat
-- on admission's path. What it also gave, a deleted student's unsent
-- changes going with them, is kept by a trigger. Changes already in a
-- message still go through mail_messages' own cascade.

ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_student_id_fkey;

CREATE FUNCTION mail_outbox_forget_student() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM mail_outbox WHERE student_id = OLD.id AND message_id IS NULL;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION mail_outbox_forget_student() IS 'A deleted student''s unsent enrollment changes go with them.';

CREATE TRIGGER students_forget_mail_outbox
    AFTER DELETE ON students
    FOR EACH ROW EXECUTE FUNCTION mail_outbox_forget_student();
