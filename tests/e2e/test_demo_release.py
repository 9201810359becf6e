"""`lts demo` over all five services as processes (real Kafka, PostgreSQL, the local package
index and SMTP server): from the report to the rollback of the published release, and the
documents comms drafted and delivered, as `lts dev` runs it (the `LTS_<SERVICE>_URL`s)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from lts_devtools.infra import Infrastructure
from lts_events.registry import SERVICES

from .conftest import ANCHORING, Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ALL_SERVICES = tuple(service.name for service in SERVICES)
MAIL_LIST = "lts-team@lists.example.org"


@pytest.fixture(scope="module")
def full_stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    infra: Infrastructure,
) -> Iterator[Stack]:
    """Every service, publishing to the local package index and mailing the internal status
    to a list through the local SMTP server (only those settings of `infra`: the stack has a
    database and Kafka namespace of its own)."""
    files = tmp_path_factory.mktemp("release-files")
    env = {
        **ANCHORING,
        **{k: v for k, v in infra.env().items() if k.startswith(("LTS_COMMS_", "LTS_RELEASE_"))},
        "LTS_RELEASE_STAGE_DATA_DIR": str(files / "stage"),
        "LTS_RELEASE_PUB_PAGE_DIR": str(files / "pages"),
        # the process doc's example: ltsapp 1.4.2 and 1.3.8 out before the service
        "LTS_RELEASE_CORE_RELEASED_VERSIONS": json.dumps({"1.4": "1.4.2", "1.3": "1.3.8"}),
        "LTS_COMMS_MAIL_LISTS": json.dumps({"internal_status": [MAIL_LIST]}),
    }
    with running_stack(request, tmp_path_factory, env, services=ALL_SERVICES) as stack:
        yield stack


def run_demo(stack: Stack) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **{f"LTS_{name.upper()}_URL": url for name, url in stack.urls.items()},
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "lts_events.cli", "demo", "--timeout", "150"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=540,
    )


def test_the_demo_goes_on_through_release_rollback_and_delivered_documents(
    full_stack: Stack,
) -> None:
    done = run_demo(full_stack)

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{full_stack.tail(8)}"
    out = done.stdout
    rolled_back = re.search(r"rolled back (\S+) -> (\S+) \(manual\)", out)
    assert rolled_back, out
    # the first release of the line after the seed's 1.4.2, back to 1.4.2
    assert rolled_back.groups() == ("1.4.3", "1.4.2"), out
    assert "published 1.4.3 to " in out, out
    assert re.search(r"status-1\.4\.3-rollback-1 r\d+ \(internal_status, internal\): released", out)
    assert re.search(
        rf"status-1\.4\.3-rollback-1 r1 -> email {re.escape(MAIL_LIST)}: delivered", out
    )
    assert "Audit timeline of ticket" in out, out


def test_without_release_and_comms_urls_the_demo_stops_at_the_approved_plan(
    full_stack: Stack,
) -> None:
    urls = {k: v for k, v in full_stack.urls.items() if k in ("intake", "triage", "metrics")}
    done = run_demo(Stack({k: full_stack.services[k] for k in urls}, "", ""))

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "approval recorded" in done.stdout
    assert "candidate" not in done.stdout
    assert "Audit timeline of ticket" in done.stdout
