#!/usr/bin/env python3
"""Prints the messages of a Maildir (written by tools/peers/smtp.sh) as a
JSON list: from, to, subject, and the decoded text and html parts."""
import json
import mailbox
import re
import sys
from email import policy
from email.parser import BytesParser


def arrival(key):
    """The order messages arrived in: Python's Maildir names a message
    `<seconds>.M<microseconds>P<pid>Q<count>.<host>`, the microseconds not
    zero-padded, so the names do not sort as text."""
    match = re.match(r"(\d+)\.M(\d+)P(\d+)Q(\d+)", key)
    if not match:
        return (float("inf"), key)
    seconds, micros, _pid, count = (int(part) for part in match.groups())
    return (seconds, micros, count)


def main(path):
    messages = []
    box = mailbox.Maildir(path, create=False)
    for key in sorted(box.keys(), key=arrival):
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
