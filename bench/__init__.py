"""bridge's benchmark: `bench/run` (or `python -m bench`); see docs/benchmarks.md."""
