"""Benchmarks: `make bench` runs every `bench/bench_*.py` module's `main()` against real infra."""
