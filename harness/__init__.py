"""Test harness shared by the end-to-end tests (`tests/e2e`) and the chaos suite (`chaos/`):
the services as their own processes (`stack`), a database of their own on a server (`database`),
and the Kafka namespace that isolates a run on a shared broker (`namespace`)."""
