"""Events of the intake service (topic `lts.intake.events`). Owned by the intake service."""
