"""Publication of sealed candidates to the channels (`lts_release.channels`): the decisions
(`decide`, pure), the shell (`service`), the routes (`api`) and their wiring (`bootstrap`)."""
