"""Chat incoming webhooks: the payload each one takes (release-formats.md section 11), and the
POST. Slack: `text` (the notification fallback) plus one mrkdwn section block. Mattermost: the
Slack-compatible `text` (Markdown) and `username`. Microsoft Teams: a Workflows "when a Teams
webhook request is received" URL taking a message with one Adaptive Card attachment (the O365
MessageCard connectors are retired). Chat webhooks have no idempotency key of their own: the
delivery's is sent as an `Idempotency-Key` header, which they ignore (see the README)."""

from __future__ import annotations

from typing import Any

import httpx
from lts_events.contracts.comms.documents import DocumentReleased

from lts_comms.delivery.config import ChatHook
from lts_comms.delivery.outcome import SendResult, error_result, http_result

# Slack: a section block's text holds at most 3000 characters. Teams: a request at most 28 KB.
SLACK_SECTION_LIMIT = 3000
TEAMS_TEXT_LIMIT = 20_000
USERNAME = "LTS Flow"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(released: DocumentReleased) -> dict[str, Any]:
    body = _clip(f"*{released.title}*\n{released.renderings.text}", SLACK_SECTION_LIMIT)
    return {
        "text": released.title,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": body}}],
    }


def mattermost_payload(released: DocumentReleased) -> dict[str, Any]:
    return {"text": f"#### {released.title}\n{released.renderings.markdown}", "username": USERNAME}


def teams_payload(released: DocumentReleased) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [
            {
                "type": "TextBlock",
                "text": released.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": _clip(released.renderings.text, TEAMS_TEXT_LIMIT),
                "wrap": True,
            },
        ],
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": card,
    }
    return {"type": "message", "attachments": [attachment]}


PAYLOADS = {"slack": slack_payload, "mattermost": mattermost_payload, "teams": teams_payload}


async def post(
    http: httpx.AsyncClient, hook: ChatHook, released: DocumentReleased, *, key: str
) -> SendResult:
    payload = PAYLOADS[hook.flavour](released)
    try:
        response = await http.post(hook.url, json=payload, headers={"Idempotency-Key": key})
    except httpx.HTTPError as error:
        return error_result(error)
    return http_result(response.status_code, response.text)
