"""What each channel sends, in the shapes the receivers take (release-formats.md sections 11
and 12; the Teams Workflows shape as in zammad's admin documentation,
manage/webhook/examples/microsoft-teams-webhooks.rst)."""

from __future__ import annotations

import hashlib
import hmac
import json

from lts_comms.delivery.channels import chat, email, webhook
from lts_events.contracts.comms.documents import DocumentReleased

from ..delivery_examples import released


def test_slack_gets_a_fallback_text_and_one_mrkdwn_section() -> None:
    payload = chat.slack_payload(released())

    assert payload["text"] == "lts-flow 1.4.3 released"
    [block] = payload["blocks"]
    assert block["type"] == "section"
    assert block["text"]["type"] == "mrkdwn"
    assert block["text"]["text"].startswith("*lts-flow 1.4.3 released*\n")


def test_a_long_document_fits_slack_s_section_limit() -> None:
    long = released().model_copy(
        update={"renderings": released().renderings.model_copy(update={"text": "x" * 10_000})}
    )

    [block] = chat.slack_payload(long)["blocks"]

    assert len(block["text"]["text"]) == chat.SLACK_SECTION_LIMIT


def test_mattermost_gets_slack_compatible_markdown_text() -> None:
    payload = chat.mattermost_payload(released())

    assert set(payload) == {"text", "username"}
    assert "pip install 'lts-flow==1.4.3'" in payload["text"]


def test_teams_gets_a_message_with_one_adaptive_card_attachment() -> None:
    payload = chat.teams_payload(released())

    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.2")
    assert [block["type"] for block in card["body"]] == ["TextBlock", "TextBlock"]
    assert card["body"][0]["text"] == "lts-flow 1.4.3 released"
    assert len(json.dumps(payload).encode()) < 28 * 1024


def test_the_generic_webhook_gets_a_structured_cloudevent_carrying_the_revision() -> None:
    document = released()

    event = webhook.cloudevent(document, key="<abc@lts.example.org>")

    assert event["specversion"] == "1.0"
    assert event["id"] == "<abc@lts.example.org>"
    assert event["type"] == "lts.comms.document_released"
    assert event["subject"] == "release-note-1.4.3/r1"
    assert DocumentReleased.model_validate(event["data"]) == document


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"specversion":"1.0"}'

    signed = webhook.signature("s3cret", body)

    assert signed == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()


def test_a_mail_carries_the_deterministic_message_id_and_both_renderings() -> None:
    message = email.mail_message(
        released(),
        sender="lts@example.org",
        recipient="users@example.org",
        message_id="<k@lts.example.org>",
    )

    assert message["Message-ID"] == "<k@lts.example.org>"
    assert message["Subject"] == "lts-flow 1.4.3 released"
    assert message[email.DOCUMENT_HEADER] == "release-note-1.4.3 r1"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
