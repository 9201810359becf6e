"""Event models, one module per producing service. Importing this package registers them all."""

from lts_events.contracts import (  # noqa: F401  (registration side effect)
    anchors,
    comms,
    intake,
    metrics,
    ops,
    release,
    triage,
)
