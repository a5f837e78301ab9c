"""Benchmarks: every `memoryd bench …` (registered in memoryd/cli/bench.py, the only module
that imports this package), deterministic synthetic corpora (corpus.py, chains.py) and the
shared harness (harness.py). See docs/benchmarks.md."""
