"""Events of the release service (topic `lts.release.events`). Owned by the release service.

One module per part of the release process; importing this package registers them all:
`backports` (backports per target line, gates, sign-offs, readiness), `ci` (CI results as
recorded from webhooks, JUnit, SARIF and dependency scans), `candidates` (release candidates,
artifacts, sealing), `publication` (channels, published, yanked or unsafe versions), `rollout`
(canary phases, analysis, rollback)."""

from lts_events.contracts.release import (  # noqa: F401  (registration side effect)
    backports,
    candidates,
    ci,
    publication,
    rollout,
    staging,
)
