"""The generic webhook: the released revision as a structured-mode CloudEvent (CloudEvents 1.0
JSON format, `Content-Type: application/cloudevents+json`), signed with HMAC-SHA256 of the
exact body under the hook's secret: `X-LTS-Signature-256: sha256=<hex>` (the scheme GitHub's
`X-Hub-Signature-256` uses). The CloudEvent `id` and the `Idempotency-Key` header are the
delivery's idempotency key, so a receiver drops a re-send by (source, id)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from lts_events.contracts.comms.documents import DocumentReleased

from lts_comms.delivery.config import SignedHook
from lts_comms.delivery.outcome import SendResult, error_result, http_result

SIGNATURE_HEADER = "X-LTS-Signature-256"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
SOURCE = "/lts-flow/comms"


def cloudevent(released: DocumentReleased, *, key: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": key,
        "source": SOURCE,
        "type": released.type,
        "subject": f"{released.document_id}/r{released.revision}",
        "time": released.released_at.isoformat(),
        "datacontenttype": "application/json",
        "data": released.to_data(),
    }


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_cloudevent(
    http: httpx.AsyncClient,
    hook: SignedHook,
    released: DocumentReleased,
    *,
    key: str,
) -> SendResult:
    body = json.dumps(cloudevent(released, key=key), separators=(",", ":")).encode()
    headers = {
        "Content-Type": CONTENT_TYPE,
        "Idempotency-Key": key,
        SIGNATURE_HEADER: signature(hook.secret.get_secret_value(), body),
    }
    try:
        response = await http.post(hook.url, content=body, headers=headers)
    except httpx.HTTPError as error:
        return error_result(error)
    return http_result(response.status_code, response.text)
