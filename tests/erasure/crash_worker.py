"""Run one erasure in a separate process and die on request (used by test_crash.py).

    python crash_worker.py HOME MODE ARG ID [ID ...]

MODE "step":  SIGKILL ourselves when the erasure reaches step ARG.
MODE "slow":  sleep ARG seconds before starting and at every step (the parent kills us at
              a random moment).

No model is loaded: an erasure by ids never embeds, so a stub with the real model's name
and dimension stands in for the embedder (it refuses to encode).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from memoryd.app import App
from memoryd.config import Settings
from memoryd.erasure.models import ErasureRequest


class NoEncode:
    name = "all-MiniLM-L6-v2"
    dim = 384

    def encode(self, texts, **kw):  # pragma: no cover - must not be called
        raise AssertionError("an erasure by id must not embed anything")

    def close(self) -> None:
        pass


def main() -> None:
    home, mode, arg, *ids = sys.argv[1:]
    settings = Settings.load(home=Path(home), db=Path(home) / "memoryd.db", env={})
    app = App(settings, embedder=NoEncode())
    svc = app.erasure
    if mode == "step":
        svc.on_step = lambda s: os.kill(os.getpid(), signal.SIGKILL) if s == arg else None
    else:
        delay = float(arg)
        svc.on_step = lambda s: time.sleep(delay)
    print("ready", flush=True)
    if mode == "slow":
        time.sleep(float(arg))  # a window in which nothing has been recorded yet
    svc.execute(ErasureRequest(memory_ids=tuple(ids)), confirm=True)
    print("done", flush=True)
    app.close()


if __name__ == "__main__":
    main()
