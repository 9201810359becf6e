"""`lts comms preview` without a release: the example context through the configured templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lts_comms.cli import app
from typer.testing import CliRunner


def test_preview_prints_the_plain_text_of_a_release_note() -> None:
    result = CliRunner().invoke(app, ["preview", "release_note", "--form", "text"])

    assert result.exit_code == 0, result.output
    assert "pip install 'lts-flow==1.4.3'" in result.output
    assert "**" not in result.output  # plain text, not Markdown


def test_preview_prints_an_advisorys_osv_record() -> None:
    result = CliRunner().invoke(app, ["preview", "security_advisory", "--form", "osv"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == "x_LTS-42"


def test_preview_refuses_a_template_with_an_unknown_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "upgrade_guidance.md.j2").write_text("# {{ package }}\n{{ migration }}\n")
    monkeypatch.setenv("LTS_COMMS_TEMPLATE_DIR", str(tmp_path))

    result = CliRunner().invoke(app, ["preview", "upgrade_guidance"])

    assert result.exit_code != 0
    assert "upgrade_guidance.md.j2, line 2" in str(result.exception)
