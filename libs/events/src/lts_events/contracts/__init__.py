"""Event models, one module per producing service. Importing this package registers them all."""

from lts_events.contracts import intake, ops, triage  # noqa: F401  (registration side effect)
