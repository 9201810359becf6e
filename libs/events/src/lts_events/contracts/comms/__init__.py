"""Events of the comms service (topic `lts.comms.events`). Owned by the comms service.

One module per part; importing this package registers them all: `facts` (comms' own copy of
the facts it drafts from), `documents` (drafts, revisions, reviews, embargo, release to an
audience) and `delivery` (the outbox: attempts, successes, failures)."""

from lts_events.contracts.comms import (  # noqa: F401  (registration side effect)
    delivery,
    documents,
    facts,
)
