"""A real SMTP server for the tests (aiosmtpd): listens on 127.0.0.1:<argv[1]>, prints
`listening`, then one JSON line per message received (envelope, subject, plain-text body decoded
from its transfer encoding); stops when stdin closes."""

import email
import json
import sys
from email import policy

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(("plain",))
        print(
            json.dumps(
                {
                    "from": envelope.mail_from,
                    "to": envelope.rcpt_tos,
                    "subject": str(msg["subject"]),
                    "content_type": msg.get_content_type(),
                    "body": body.get_content() if body is not None else "",
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
        return "250 OK"


controller = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("listening", flush=True)
sys.stdin.read()
controller.stop()
