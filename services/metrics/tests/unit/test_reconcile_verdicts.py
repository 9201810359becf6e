"""What reconcile makes of the facts it is given: matched, in flight, missing, phantom."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lts_events.store.inspect import StoredRef
from lts_events.store.port import Checkpoint
from lts_metrics.reconcile import AuditedRef, Progress, reconcile


def stored(event_id: str, position: int, stream: str = "ticket-1") -> StoredRef:
    return StoredRef(stream, position, event_id, "lts.x.noted", Checkpoint(10, position))


def audited(event_id: str, stream: str = "ticket-1") -> AuditedRef:
    return AuditedRef(stream, None, event_id, "lts.x.noted")


def test_an_unaudited_event_published_before_the_consumer_caught_up_is_in_flight() -> None:
    events = [stored("a", 1), stored("b", 2)]

    report = reconcile("x", events, [audited("a")], Progress(Checkpoint(10, 2), consumed=False))

    assert ([e.event_id for e in report.in_flight], report.missing) == (["b"], [])
    assert report.ok


def test_an_unaudited_event_relayed_and_consumed_is_missing() -> None:
    events = [stored("a", 1), stored("b", 2)]

    report = reconcile("x", events, [audited("a")], Progress(Checkpoint(10, 2), consumed=True))

    assert [e.event_id for e in report.missing] == ["b"]
    assert not report.ok


def test_an_audited_event_the_store_gained_after_its_snapshot_is_no_phantom() -> None:
    copies = [audited("a"), audited("late"), audited("gone")]

    report = reconcile(
        "x",
        [stored("a", 1)],
        copies,
        Progress(Checkpoint(10, 1), consumed=True),
        stored_later=["late"],
    )

    assert [p.event_id for p in report.phantoms] == ["gone"]


def test_without_a_running_stack_the_command_fails_in_one_line_naming_where_it_looked(
    tmp_path: Path,
) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    }
    env["LTS_HOME"] = str(tmp_path)

    done = subprocess.run(
        [str(Path(sys.executable).parent / "lts"), "audit", "reconcile"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "KAFKA_BOOTSTRAP_SERVERS is unset" in line
    assert "DATABASE_URL is unset" in line
    assert str(tmp_path) in line
