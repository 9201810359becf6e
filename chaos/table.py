"""The table of counts: one row per scenario."""

from __future__ import annotations

from collections.abc import Sequence

from chaos.checks import Counts, failures

COLUMNS: tuple[tuple[str, str], ...] = (
    ("inputs", "inputs"),
    ("1 ticket", "one_ticket"),
    ("no ticket", "no_ticket"),
    (">1 ticket", "several_tickets"),
    ("id reused", "reused_ticket_ids"),
    ("tickets", "tickets"),
    ("orphan claims", "orphan_claims"),
    ("triaged once", "triaged_once"),
    ("triage missing", "triage_missing"),
    ("triage twice", "triage_doubled"),
    ("reminded once", "reminded_once"),
    ("reminder missing", "reminder_missing"),
    ("reminder twice", "reminder_doubled"),
    ("timers unfired", "timers_unfired"),
    ("stored", "stored"),
    ("audited once", "audited_once"),
    ("not audited", "not_audited"),
    ("phantoms", "phantoms"),
    ("DLQ", "dead_letters"),
    ("unplanned restarts", "unplanned_restarts"),
    ("takeover s", "leader_takeover_s"),
    ("released", "releases.released"),
    ("release once/missing/twice", "releases.decisions"),
    ("comms once/missing/twice", "releases.documents"),
    ("mails+files once/missing/twice", "releases.effects"),
    ("mails resent", "releases.resent"),
    ("replayed", "releases.replayed"),
)


def _cell(counts: Counts, attribute: str) -> str:
    """`a.b`: the attribute `b` of `counts.a`, "-" when `counts.a` is None."""
    value: object = counts
    for name in attribute.split("."):
        value = getattr(value, name)
        if value is None:
            return "-"
    return str(value)


def render(results: Sequence[tuple[str, Counts]]) -> str:
    header = [
        "scenario",
        *(title for title, _ in COLUMNS),
        "verify",
        "reconcile",
        "quiescent",
        "verdict",
    ]
    rows = [
        [
            name,
            *(_cell(counts, attribute) for _, attribute in COLUMNS),
            "fail: " + ",".join(counts.verify_failed) if counts.verify_failed else "ok",
            "ok" if counts.reconciled else "FAIL",
            "yes" if counts.quiescent else "NO",
            "FAIL" if failures(counts) else "pass",
        ]
        for name, counts in results
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        " | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)
