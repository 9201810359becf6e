"""Which key signs chain anchors: the configured one; locally a key generated once; none
outside the local environment (the service host then refuses to start)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lts_events.service import _anchor_key
from lts_events.settings import RuntimeSettings
from lts_events.store.anchoring import signing_key


def test_the_configured_key_signs() -> None:
    assert signing_key("k1", environ={"LTS_ENVIRONMENT": "production"}) == b"k1"


def test_locally_a_key_is_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LTS_HOME", str(tmp_path))

    first, second = signing_key(environ={}), signing_key(environ={})

    assert first == second
    assert first is not None
    assert len(first) == 64
    assert (tmp_path / "anchor.key").stat().st_mode & 0o777 == 0o600


def test_outside_the_local_environment_without_a_key_the_host_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LTS_ENVIRONMENT", "production")
    monkeypatch.delenv("LTS_ANCHOR_KEY", raising=False)

    with pytest.raises(RuntimeError, match="LTS_ANCHOR_KEY must be set"):
        _anchor_key(RuntimeSettings.for_service("intake"))
    assert _anchor_key(RuntimeSettings.for_service("intake", anchor_interval=0)) is None
