"""Trust through the real services: an App on a real SQLite file, the real model, and a
simulated clock so that probation, ageing and "days later" can be tested."""

from __future__ import annotations

import pytest
from trust_helpers import SimClock

from memoryd.app import App


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


@pytest.fixture
def sim_app(settings, embedder, clock):
    a = App(settings, embedder=embedder, clock=clock)
    yield a
    a.close()
