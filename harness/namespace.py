"""Test harness only: isolates one run (end to end, chaos) on a shared Kafka cluster.

Installed in each service subprocess before the service is built, it prefixes every topic the
service publishes to or subscribes to, and every consumer group, with a per-run namespace, so a
run neither reads other runs' tickets nor steals partitions from a stack running beside it.
(The runtime has no namespace setting yet; this does by monkeypatching what one would do.)"""

from __future__ import annotations

from typing import Any


def install(prefix: str) -> None:
    import lts_events.consumer as consumer
    import lts_events.kafka as kafka
    import lts_events.service as service

    original_events_topic = kafka.events_topic

    def events_topic(service: str) -> str:
        return prefix + original_events_topic(service)

    kafka.events_topic = events_topic
    setattr(service, "events_topic", events_topic)  # noqa: B010  (patched where imported)

    original_route = consumer.Subscriptions._route
    original_init = consumer.Subscriptions.__init__

    def route(self: Any, topic: str) -> Any:
        return original_route(self, topic if topic.startswith(prefix) else prefix + topic)

    def init(self: Any, consumer: str, **kwargs: Any) -> None:
        original_init(self, prefix + consumer, **kwargs)

    consumer.Subscriptions._route = route  # type: ignore[method-assign]
    setattr(consumer.Subscriptions, "__init__", init)  # noqa: B010
