"""The outbox's pure decisions: retry policy, the next step of a delivery, what a channel's
answer makes of it, and which targets a released revision goes to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lts_comms.delivery.domain import (
    DeliveryState,
    Route,
    Send,
    Stop,
    conclude,
    delivery_id,
    fold,
    idempotency_key,
    next_step,
    plan_targets,
)
from lts_comms.delivery.outcome import (
    Accepted,
    Rejected,
    error_result,
    http_result,
    smtp_reply_result,
)
from lts_comms.delivery.policy import RetryPolicy
from lts_events.contracts.comms.delivery import (
    Channel,
    DeliveryAttempted,
    DeliveryFailed,
    DeliveryGaveUp,
    DeliverySucceeded,
    DeliveryTarget,
)
from lts_events.contracts.comms.documents import Audience, DocumentKind

from ..delivery_examples import released

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    max_attempts=4, base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=1)
)
MAIL = DeliveryTarget(
    channel=Channel.EMAIL, recipient="users@example.org", audience=Audience.EXTERNAL
)


def test_retries_back_off_doubling_up_to_the_cap_and_stop_after_the_last_try() -> None:
    delays = [POLICY.retry_at(failed_attempt=n, failed_at=T0) for n in range(1, 5)]

    assert delays == [
        T0 + timedelta(seconds=30),
        T0 + timedelta(seconds=60),
        T0 + timedelta(seconds=60),
        None,
    ]


def test_a_transient_failure_before_the_last_try_is_retried_at_the_backoff() -> None:
    concluded = conclude(
        Rejected("HTTP 500", transient=True), delivery="d", attempt=1, policy=POLICY, now=T0
    )

    assert concluded.events == (
        DeliveryFailed(
            delivery_id="d",
            attempt=1,
            reason="HTTP 500",
            retry_at=T0 + timedelta(seconds=30),
            failed_at=T0,
        ),
    )
    assert concluded.retry_at == T0 + timedelta(seconds=30)


def test_the_last_transient_failure_gives_up_naming_the_tries_and_the_reason() -> None:
    concluded = conclude(
        Rejected("HTTP 500", transient=True), delivery="d", attempt=4, policy=POLICY, now=T0
    )

    assert concluded.events == (
        DeliveryGaveUp(
            delivery_id="d", attempts=4, reason="4 attempts, the last: HTTP 500", gave_up_at=T0
        ),
    )
    assert concluded.retry_at is None


def test_a_permanent_failure_gives_up_at_once() -> None:
    concluded = conclude(
        Rejected("HTTP 404", transient=False), delivery="d", attempt=1, policy=POLICY, now=T0
    )

    assert concluded.events == (
        DeliveryGaveUp(delivery_id="d", attempts=1, reason="HTTP 404", gave_up_at=T0),
    )


def test_an_accepted_send_succeeds() -> None:
    concluded = conclude(Accepted("HTTP 200"), delivery="d", attempt=2, policy=POLICY, now=T0)

    assert concluded.events == (
        DeliverySucceeded(delivery_id="d", attempt=2, response="HTTP 200", delivered_at=T0),
    )


def attempted(attempt: int) -> DeliveryAttempted:
    return DeliveryAttempted(
        delivery_id="d",
        document_id="doc",
        revision=1,
        target=MAIL,
        attempt=attempt,
        idempotency_key="<k@x>",
        attempted_at=T0,
    )


def test_an_attempt_stored_without_an_outcome_is_sent_again_as_a_resend() -> None:
    state = fold([attempted(1)])

    step = next_step(state, delivery="d", policy=POLICY, now=T0)

    assert step == Send(2, resends_unconfirmed=True)


def test_after_a_recorded_failure_the_next_try_is_not_a_resend() -> None:
    failed = DeliveryFailed(delivery_id="d", attempt=1, reason="x", retry_at=T0, failed_at=T0)

    step = next_step(fold([attempted(1), failed]), delivery="d", policy=POLICY, now=T0)

    assert step == Send(2, resends_unconfirmed=False)


def test_a_delivered_message_is_never_sent_again() -> None:
    succeeded = DeliverySucceeded(delivery_id="d", attempt=1, response="250", delivered_at=T0)

    step = next_step(fold([attempted(1), succeeded]), delivery="d", policy=POLICY, now=T0)

    assert step == Stop()


def test_attempts_that_never_conclude_end_after_the_last_try() -> None:
    state = DeliveryState(attempts=4, concluded=3)

    step = next_step(state, delivery="d", policy=POLICY, now=T0)

    assert isinstance(step, Stop)
    assert step.gave_up is not None
    assert step.gave_up.attempts == 4


def test_http_statuses_and_smtp_codes_say_whether_to_try_again() -> None:
    assert http_result(200, "ok") == Accepted("HTTP 200")
    assert http_result(500, "boom") == Rejected("HTTP 500: boom", transient=True)
    assert http_result(429, "") == Rejected("HTTP 429", transient=True)
    assert http_result(404, "no_service") == Rejected("HTTP 404: no_service", transient=False)
    assert smtp_reply_result(451, "try later").transient
    assert not smtp_reply_result(550, "no such user").transient


def test_a_refused_connection_is_transient_by_the_shared_classification() -> None:
    assert error_result(ConnectionRefusedError(111, "Connection refused")).transient
    assert not error_result(ValueError("bad payload")).transient


def test_a_revision_goes_to_its_kind_s_lists_and_the_routes_of_its_audience_only() -> None:
    routes = [
        Route(Channel.SLACK, "team-chat", Audience.INTERNAL),
        Route(Channel.TEAMS, "announcements", Audience.EXTERNAL),
        Route(
            Channel.WEBHOOK, "advisory-feed", Audience.EXTERNAL, (DocumentKind.SECURITY_ADVISORY,)
        ),
    ]
    lists = {DocumentKind.RELEASE_NOTE: ("users@example.org", "users@example.org")}

    targets = plan_targets(released(), mail_lists=lists, routes=routes)

    assert targets == (
        MAIL,
        DeliveryTarget(
            channel=Channel.TEAMS, recipient="announcements", audience=Audience.EXTERNAL
        ),
    )


def test_the_idempotency_key_is_one_per_revision_channel_and_recipient() -> None:
    first = delivery_id("doc", 1, MAIL)
    other_recipient = delivery_id(
        "doc", 1, MAIL.model_copy(update={"recipient": "dev@example.org"})
    )
    next_revision = delivery_id("doc", 2, MAIL)

    keys = {
        idempotency_key(d, mail_domain="lts.example.org")
        for d in (first, other_recipient, next_revision)
    }

    assert len(keys) == 3
    assert idempotency_key(first, mail_domain="lts.example.org") == idempotency_key(
        first, mail_domain="lts.example.org"
    )
    assert all(k.startswith("<") and k.endswith("@lts.example.org>") for k in keys)
