"""Events of the triage service (topic `lts.triage.events`). Owned by the triage service."""
