"""Events of the comms service (topic `lts.comms.events`). Owned by the comms service.

One module per part; importing this package registers them all: `documents` (drafts,
revisions, reviews, embargo) and `delivery` (the outbox: attempts, successes, failures)."""
