from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lts_events.contracts.common import TicketSource
from lts_events.contracts.intake import ReleaseRef, TicketKind
from lts_events.envelope import Envelope
from lts_intake import enrich, labels
from lts_intake.config import Settings
from lts_intake.formats import nul_path
from lts_intake.gitinfo import LOG_FORMAT, parse_log, tag_candidates, tracked_paths_for
from lts_intake.model import TicketDraft
from lts_intake.releases import release_from
from lts_intake.standardize import parse_template

NOW = datetime(2026, 11, 22, tzinfo=UTC)

CHAINED = """Traceback (most recent call last):
  File "/usr/lib/python3.12/site-packages/requests/models.py", line 971, in json
    return complexjson.loads(self.text, **kwargs)
ValueError: Expecting value

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/home/ci/work/ltsdemo/cli.py", line 30, in main
    sync()
  File "/home/ci/work/ltsdemo/sync.py", line 12, in sync
    data = session.get(url).json()
  File "/usr/lib/python3.12/site-packages/requests/models.py", line 975, in json
    raise RequestsJSONDecodeError(e.msg, e.doc, e.pos)
requests.exceptions.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
"""


def test_a_chained_traceback_is_summarised_by_its_last_exception() -> None:
    summary = enrich.parse_traceback(CHAINED, project_modules=("ltsdemo",))

    assert summary is not None
    assert summary.exception_type == "requests.exceptions.JSONDecodeError"
    assert summary.exception_message == "Expecting value: line 1 column 1 (char 0)"
    assert [f.function for f in summary.frames] == ["main", "sync", "json"]
    assert summary.frames[2].module == "requests.models"
    assert summary.top_project_module == "ltsdemo.sync"


def test_text_without_a_traceback_has_no_summary() -> None:
    assert enrich.parse_traceback("it just hangs") is None


@pytest.mark.parametrize(
    ("path", "module"),
    [
        (
            "/app/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py",
            "sqlalchemy.orm.session",
        ),
        ("/usr/lib/python3.11/json/decoder.py", "json.decoder"),
        ("/srv/app/src/shop/api/__init__.py", "shop.api"),
        ("<frozen runpy>", None),
    ],
)
def test_a_frame_path_names_its_module(path: str, module: str | None) -> None:
    assert enrich.module_of(path) == module


def test_pip_freeze_and_pip_list_lines_give_package_versions() -> None:
    text = "Package    Version\n---------- -------\nDjango==4.2.16\nrequests   2.32.3\n# comment\n"

    assert enrich.parse_package_versions(text) == {"django": "4.2.16", "requests": "2.32.3"}


def test_environment_lines_become_a_mapping() -> None:
    text = "- OS: Debian 12\n- Python: 3.11.9\ndatabase=PostgreSQL 16"

    assert enrich.parse_environment(text) == {
        "os": "Debian 12",
        "python": "3.11.9",
        "database": "PostgreSQL 16",
    }


def test_the_python_version_is_found_in_text_or_in_a_path() -> None:
    assert enrich.python_version_from("running on CPython 3.12.1") == "3.12.1"
    assert enrich.python_version_from('File "/usr/lib/python3.10/x.py"') == "3.10"


def test_only_releases_shortly_before_the_alert_are_possible_regressions() -> None:
    started = NOW
    recent = ReleaseRef(version="1.4.3", released_at=started - timedelta(hours=2))
    older = ReleaseRef(version="1.4.2", released_at=started - timedelta(days=3))
    later = ReleaseRef(version="1.4.4", released_at=started + timedelta(minutes=5))

    found = enrich.possible_regressions(started, [older, recent, later], window=timedelta(hours=24))

    assert found == [recent]


def _draft(**fields: object) -> TicketDraft:
    values: dict[str, object] = {
        "title": "t",
        "source": TicketSource.REPORT,
        "kind": TicketKind.BUG,
        "opened_at": NOW,
    }
    return TicketDraft.model_validate(values | fields)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("p99 latency doubled since 1.4.2", "performance"),
        ("rows silently dropped during export: data loss", "data-loss"),
        ("worker segfault when the queue is empty", "crash"),
        ("SQL injection in the search filter", "security"),
        ("this used to work in 1.3", "regression"),
    ],
)
def test_keywords_in_the_text_add_labels(text: str, label: str) -> None:
    assert label in labels.automatic_labels(_draft(description=text))


def test_a_plain_question_gets_no_automatic_label() -> None:
    assert labels.automatic_labels(_draft(title="How do I configure the cache?")) == []


def test_a_cve_id_makes_a_ticket_security_and_cve() -> None:
    assert labels.automatic_labels(_draft(cve_ids=["CVE-2024-1"])) == ["security", "cve"]


def test_cve_ids_are_found_in_free_text_once_each() -> None:
    assert labels.cve_ids_in("see cve-2024-45230 and CVE-2024-45230, CVE-2023-1234") == [
        "CVE-2024-45230",
        "CVE-2023-1234",
    ]


def test_an_issue_written_from_the_template_is_split_into_its_sections() -> None:
    body = (
        "### Description\n\nExport fails.\n\n### Steps to reproduce\n\n1. run export\n\n"
        '### Traceback\n\n```\nTraceback (most recent call last):\n  File "x.py", line 1, in f\n'
        "KeyError: 'a'\n```\n\n### Affected versions\n\n1.4.2, 1.3.9\n\n### Severity\n\nhigh\n"
        "### Python version\n\n_No response_\n"
    )

    sections = parse_template(body)

    assert sections["description"] == "Export fails."
    assert sections["reproduction_steps"] == "1. run export"
    assert sections["traceback"].endswith("KeyError: 'a'")
    assert sections["affected_versions"] == "1.4.2, 1.3.9"
    assert sections["severity"] == "high"
    assert "python_version" not in sections


def test_nul_characters_are_located_for_the_error_message() -> None:
    assert nul_path({"a": [{"b": "ok"}, {"c": "bad\x00"}]}) == ("a", 1, "c")
    assert nul_path({"fine": ["x", 1, None]}) is None


def test_git_log_output_becomes_commits_with_their_files() -> None:
    output = (
        "\x1eabc123\x1fFix export\x1fAda\x1f2026-11-20T10:00:00+00:00\n\nsrc/shop/export.py\n"
        "\x1edef456\x1fRefactor\x1fBob\x1f2026-11-19T09:00:00+00:00\n\nsrc/shop/a.py\nsrc/shop/b.py\n"
    )

    commits = parse_log(output)

    assert [c.sha for c in commits] == ["abc123", "def456"]
    assert commits[1].files == ["src/shop/a.py", "src/shop/b.py"]
    assert commits[0].committed_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert "%H" in LOG_FORMAT


def test_traceback_paths_are_matched_to_tracked_files_and_versions_to_tags() -> None:
    tracked = ["src/shop/export.py", "src/shop/api.py"]

    assert tracked_paths_for(["/srv/app/src/shop/export.py", "/usr/lib/x.py"], tracked) == [
        "src/shop/export.py"
    ]
    assert tag_candidates(["1.4.2", ">=1.3"]) == ["v1.4.2", "v1.4.2-lts", "1.4.2"]


def test_a_release_published_event_becomes_a_release_reference() -> None:
    envelope = Envelope(
        id="e1",
        source="lts-flow/release",
        type="lts.release.release_published",
        subject="release-1.4.3",
        data={"version": "1.4.3", "published_at": NOW.isoformat(), "lts_line": "release-lts/v1.4"},
    )
    other = envelope.model_copy(update={"type": "lts.release.gate_passed"})

    assert release_from(envelope) == ReleaseRef(
        version="1.4.3", released_at=NOW, lts_line="release-lts/v1.4", release_id="release-1.4.3"
    )
    assert release_from(other) is None


def test_development_secrets_are_refused_outside_the_local_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LTS_ENVIRONMENT", "production")

    with pytest.raises(ValueError, match="LTS_INTAKE_GITHUB_WEBHOOK_SECRET"):
        Settings()

    monkeypatch.setenv("LTS_INTAKE_GITHUB_WEBHOOK_SECRET", "s1")
    monkeypatch.setenv("LTS_INTAKE_GITLAB_WEBHOOK_TOKEN", "s2")
    monkeypatch.setenv("LTS_INTAKE_ALERT_WEBHOOK_TOKEN", "s3")
    assert Settings().environment == "production"
