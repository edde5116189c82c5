"""A real SMTP server (aiosmtpd, Debian's python3-aiosmtpd) that keeps every
mail it accepts: one JSON line per mail (for tests), and an mbox file a
person can open with `mutt -f FILE` or read with `less`.

    python3 smtp_sink.py --listen 127.0.0.1:2525 --jsonl mails.jsonl --mbox mails.mbox
        [--reject-prefix bounce] [--delay-ms 0] [--auth user:password]
        [--tls-cert cert.pem --tls-key key.pem [--smtps]]

--reject-prefix answers RCPT TO for addresses starting with it with
"550 5.1.1 mailbox unavailable"; --delay-ms waits before accepting each
mail's data; --auth requires AUTH PLAIN/LOGIN with these credentials;
--tls-cert/--tls-key offer STARTTLS (required), or TLS from the first byte
with --smtps.
"""

import argparse
import asyncio
import email
import email.policy
import json
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def mbox_entry(sender, raw):
    """One mbox entry: a From_ line, the message with its own From_-like
    lines quoted, a blank line."""
    lines = raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
    body = b"\n".join(b">" + l if l.startswith(b"From ") else l for l in lines)
    head = ("From %s %s\n" % (sender or "MAILER-DAEMON", time.asctime())).encode()
    return head + body + b"\n\n"


class Sink:
    def __init__(self, args):
        self.jsonl = open(args.jsonl, "a", encoding="utf-8") if args.jsonl else None
        # Appended by hand: the mailbox module fsyncs the file on every mail.
        self.mbox = open(args.mbox, "ab") if args.mbox else None
        self.reject_prefix = args.reject_prefix
        self.delay = args.delay_ms / 1000.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_prefix and address.startswith(self.reject_prefix):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "received_at": time.time(),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "message_id": str(msg.get("Message-ID", "")),
            "subject": str(msg.get("Subject", "")),
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
        }
        if self.mbox is not None:
            self.mbox.write(mbox_entry(envelope.mail_from, raw))
            self.mbox.flush()
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.jsonl.flush()
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--jsonl")
    p.add_argument("--mbox")
    p.add_argument("--reject-prefix")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--auth")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--smtps", action="store_true")
    args = p.parse_args()
    host, port = args.listen.rsplit(":", 1)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok)

        kwargs.update(
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=tls is not None,
        )
    if tls is not None and not args.smtps:
        kwargs.update(tls_context=tls, require_starttls=True)

    handler = Sink(args)

    def factory():
        return SMTP(handler, hostname="sink.test", data_size_limit=10 * 1024 * 1024, **kwargs)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(factory, host=host, port=int(port), ssl=tls if args.smtps else None)
    )
    print("smtp sink listening on %s:%s" % (host, port), file=sys.stderr, flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
