"""Benchmark scripts. Those that use the test helpers (``tests.rows``...) or another benchmark run
as modules from the repository's root: ``python -m benchmarks.bench_store``."""
