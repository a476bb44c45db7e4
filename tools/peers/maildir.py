#!/usr/bin/env python3
"""Prints the messages of a Maildir (written by tools/peers/smtp.sh) as a
JSON list: from, to, subject, and the decoded text and html parts."""
import json
import mailbox
import sys
from email import policy
from email.parser import BytesParser


def main(path):
    messages = []
    box = mailbox.Maildir(path, create=False)
    for key in sorted(box.keys()):
        with box.get_file(key) as raw:
            message = BytesParser(policy=policy.default).parse(raw)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        messages.append({
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        })
    json.dump(messages, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
