"""Mail over SMTP (aiosmtplib). aiosmtplib adds no Message-ID and SMTP never de-duplicates, so
every mail carries the delivery's deterministic Message-ID: a re-send is the same message."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from lts_events.contracts.comms.documents import DocumentReleased

from lts_comms.delivery.outcome import Accepted, SendResult, error_result, smtp_reply_result

DOCUMENT_HEADER = "X-LTS-Document"
"""`<document id> r<revision>`: which revision a mail carries (the outbox CLI reads it back)."""


def mail_message(
    released: DocumentReleased, *, sender: str, recipient: str, message_id: str
) -> EmailMessage:
    """The revision as a multipart/alternative mail: its plain text, then its HTML."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = released.title
    message["Date"] = format_datetime(released.released_at)
    message["Message-ID"] = message_id
    message[DOCUMENT_HEADER] = f"{released.document_id} r{released.revision}"
    message.set_content(released.renderings.text)
    message.add_alternative(released.renderings.html, subtype="html")
    return message


async def send_mail(message: EmailMessage, *, host: str, port: int) -> SendResult:
    try:
        _, reply = await aiosmtplib.send(message, hostname=host, port=port)
    except aiosmtplib.SMTPRecipientsRefused as refused:
        first = refused.recipients[0]
        return smtp_reply_result(first.code, f"{first.recipient}: {first.message}")
    except aiosmtplib.SMTPResponseException as refused:
        return smtp_reply_result(refused.code, refused.message)
    except Exception as error:  # the shared classification decides: refused, reset, timed out
        return error_result(error)
    return Accepted(reply)
