"""Fixtures for erasure tests (helpers live in erasure_helpers.py)."""

from __future__ import annotations

import pytest
from erasure_helpers import Seeded, seed


@pytest.fixture
def seeded(app) -> Seeded:
    return seed(app)
