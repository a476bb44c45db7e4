"""aiosmtpd handlers for the email tests (tools/peers/smtp.sh).

RefusingMailbox writes every message it accepts to a Maildir, as
aiosmtpd.handlers.Mailbox does, and refuses for good (550) every recipient
whose local part starts with "bounce": a mail server that does not know
the address, for Warden's email.bounced.
"""
from aiosmtpd.handlers import Mailbox


class RefusingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("bounce"):
            return "550 5.1.1 <%s>: recipient address rejected: user unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
