"""The raw subscriber on `lts.inbound.alerts`: CloudEvents (structured or binary mode) from
upstream systems whose `data` is one alert (Alertmanager alert shape) or a whole Alertmanager /
Grafana notification. Decodes, calls the shell; anything malformed is a `PermanentError` (DLQ)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lts_events.actors import Actor, Role
from lts_events.consumer import PermanentError, RawMessage
from lts_events.contracts.common import TicketSource
from lts_events.envelope import Envelope, Metadata
from lts_events.store.port import ProcessedMessage
from pydantic import ValidationError

from lts_intake import standardize
from lts_intake.formats import AlertIn, may_hold_unstorable, nul_path
from lts_intake.handlers import Intake, Work
from lts_intake.model import Command

INBOUND_ALERTS = "lts.inbound.alerts"
CONSUMER = "intake"


def decode_alert_event(message: RawMessage) -> tuple[Envelope, list[AlertIn]]:
    """The CloudEvent and the alerts it carries, or `PermanentError` saying what is wrong."""
    try:
        envelope = Envelope.from_kafka(message.value, message.headers)
    except (ValueError, ValidationError) as error:
        raise PermanentError(f"not a CloudEvent: {_short(error)}") from None
    data = envelope.data
    found = nul_path(data) if may_hold_unstorable(message.value or b"") else None
    if found is not None:
        raise PermanentError(
            f"CloudEvent {envelope.id} has a NUL character at data.{'.'.join(map(str, found))}"
        )
    try:
        if isinstance(data.get("alerts"), list):
            alerts = [AlertIn.model_validate(a) for a in data["alerts"]]
        else:
            alerts = [AlertIn.model_validate(data)]
    except ValidationError as error:
        raise PermanentError(
            f"CloudEvent {envelope.id} does not carry an alert: {_short(error)}"
        ) from None
    if not alerts:
        raise PermanentError(f"CloudEvent {envelope.id} carries no alerts")
    return envelope, alerts


def _short(error: Exception) -> str:
    return str(error).replace("\n", " ")[:500]


def alert_commands(message: RawMessage, intake: Intake) -> list[Work]:
    """The commands one alert event asks for, each answering its own processed-message id (an
    Alertmanager notification carries several alerts), or `PermanentError`."""
    envelope, alerts = decode_alert_event(message)
    group_status = envelope.data.get("status") if "alerts" in envelope.data else None
    commands: list[Command] = standardize.from_alerts(
        alerts,
        source=TicketSource.CLOUDEVENT,
        now=intake.clock(),
        policy=intake.policy,
        context={
            "cloudevent": envelope.model_dump(mode="json", exclude={"data"}, exclude_none=True)
        },
        group_status=group_status if group_status in ("firing", "resolved") else None,
    )
    metadata = Metadata(
        actor=Actor(id=envelope.source[:200], role=Role.AUTOMATION),
        reason=f"alert event {envelope.type}",
        correlation_id=envelope.correlationid or envelope.id,
        causation_id=envelope.id,
        traceparent=envelope.traceparent,
        tracestate=envelope.tracestate,
    )
    suffixes = [f"#{i}" for i in range(len(commands))] if len(commands) > 1 else [""]
    return [
        Work(command, metadata, ProcessedMessage(CONSUMER, f"{message.message_id}{suffix}"))
        for command, suffix in zip(commands, suffixes, strict=True)
    ]


def alert_batch_handler(
    intake: Intake,
) -> Callable[[Sequence[RawMessage]], Awaitable[list[PermanentError | None]]]:
    """The subscriber of `lts.inbound.alerts`: a Kafka batch at a time (see
    `Intake.execute_batch`); a malformed event is refused alone and goes to the DLQ."""

    async def on_inbound_alerts(messages: Sequence[RawMessage]) -> list[PermanentError | None]:
        verdicts: list[PermanentError | None] = []
        batch: list[Work] = []
        for message in messages:
            try:
                batch += alert_commands(message, intake)
            except PermanentError as error:
                verdicts.append(error)
            else:
                verdicts.append(None)
        await intake.execute_batch(batch)
        return verdicts

    return on_inbound_alerts
