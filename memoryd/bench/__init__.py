"""Benchmarks: deterministic synthetic corpora and measurement harnesses (`memoryd bench`)."""
