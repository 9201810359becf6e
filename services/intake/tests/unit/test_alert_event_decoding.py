"""An alert CloudEvent from `lts.inbound.alerts` is refused when its data holds what PostgreSQL
cannot store (a NUL or a lone surrogate), however the JSON text carries it, and decoded
otherwise."""

from __future__ import annotations

import json

import pytest
from lts_events.consumer import PermanentError, RawMessage
from lts_intake.kafka import decode_alert_event

HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"alert-1"),
    ("ce_source", b"//alertmanager.test"),
    ("ce_type", b"org.prometheus.alert.firing"),
    ("content-type", b"application/json"),
]


def alert_text(summary: str, *, ensure_ascii: bool = False) -> str:
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "severity": "critical", "version": "1.4.2"},
        "annotations": {"summary": summary},
        "startsAt": "2026-12-04T10:00:00+00:00",
        "fingerprint": "f-1",
    }
    return json.dumps(alert, ensure_ascii=ensure_ascii)


def message(value: bytes) -> RawMessage:
    return RawMessage.of(
        value=value, headers=HEADERS, key=b"f-1", topic="lts.inbound.alerts", partition=0, offset=1
    )


def test_an_alert_with_plain_text_decodes() -> None:
    envelope, alerts = decode_alert_event(message(alert_text("Ünïcode, no escapes").encode()))

    assert envelope.id == "alert-1"
    assert [a.annotations["summary"] for a in alerts] == ["Ünïcode, no escapes"]


def test_an_alert_with_non_ascii_escapes_decodes() -> None:
    _, alerts = decode_alert_event(message(alert_text("Ünïcode", ensure_ascii=True).encode()))

    assert alerts[0].annotations["summary"] == "Ünïcode"


@pytest.mark.parametrize(
    "value",
    [
        alert_text("nul \x00 escaped").encode(),  # json.dumps writes \u0000
        alert_text("lone \ud800 escaped", ensure_ascii=True).encode(),  # \ud800
        alert_text("nul \x00 in UTF-16").encode("utf-16"),  # json.loads detects UTF-16
        alert_text("lone \ud800 raw").encode("utf-8", "surrogatepass"),  # bytes ED A0 80
    ],
    ids=["escaped-nul", "escaped-surrogate", "utf-16", "raw-surrogate-bytes"],
)
def test_an_alert_holding_what_postgresql_cannot_store_is_refused(value: bytes) -> None:
    with pytest.raises(PermanentError, match=r"NUL character at data\.annotations\.summary"):
        decode_alert_event(message(value))
