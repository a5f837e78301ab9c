"""`memoryd bench unlearn`: STAMP against training-based unlearning baselines on a tiny local
Llama, on the probes the edit saw and under attack (torch; imported only by that command).

    run.py        the benchmark driver: adapt, erase with every method, evaluate, retrain
    baselines.py  gradient ascent, Selective Synaptic Dampening (bench-only methods)
    table.py      plain-text tables of the results
"""

from __future__ import annotations

from .baselines import BaselineResult, GAConfig, SSDConfig, gradient_ascent, selective_synaptic_dampening
from .run import run_unlearn_benchmark
from .table import render_unlearn_table

__all__ = [
    "BaselineResult",
    "GAConfig",
    "SSDConfig",
    "gradient_ascent",
    "selective_synaptic_dampening",
    "run_unlearn_benchmark",
    "render_unlearn_table",
]
