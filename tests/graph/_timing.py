"""Kept for imports from tests/graph: the helper lives in tests/timing.py."""

from timing import budget  # noqa: F401
