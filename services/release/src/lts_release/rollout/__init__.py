"""Staged rollout and rollback: the pure state machine (`policy`, `state`, `machine`,
`readings`, `gates`) and its I/O shell (`handlers`, `prometheus`, `channels`, `api`,
`subscribe`)."""
