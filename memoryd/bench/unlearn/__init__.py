"""`memoryd bench unlearn`: STAMP against training-based unlearning baselines on a tiny local
Llama, on the probes the edit saw and under attack (torch; imported only by that command).

    run.py        the benchmark driver: adapt, erase with every method, evaluate, retrain
    baselines.py  gradient ascent, Selective Synaptic Dampening (bench-only methods)
    uno.py        UNO: gradient ascent orthogonalised against retain gradients
    methods.py    the registry of methods, Method(task) -> edited model (stamp, GA, SSD, UNO, retrain)
    forms.py      held-out phrasings of a profile (paraphrase, reversed fill-in, multi-hop chain)
    attacks.py    held-out-form extraction, relearning
    mia.py        Min-K% membership inference, PrivLeak, the output classifier
    suite.py      the attack suite, scalability and sustainability
    pooled.py     the attack suite over several seeds (--seeds): targets on the means
    table.py      plain-text tables of the results
"""

from __future__ import annotations

from .attacks import RelearnConfig
from .baselines import BaselineResult, GAConfig, SSDConfig, gradient_ascent, selective_synaptic_dampening
from .methods import METHODS, Method, UnlearnTask
from .run import run_unlearn_benchmark
from .suite import run_attack_suite
from .table import render_attack_table, render_unlearn_table
from .uno import UNOConfig, uno

__all__ = [
    "BaselineResult",
    "GAConfig",
    "SSDConfig",
    "gradient_ascent",
    "selective_synaptic_dampening",
    "run_unlearn_benchmark",
    "render_unlearn_table",
    "render_attack_table",
    "RelearnConfig",
    "UNOConfig",
    "uno",
    "METHODS",
    "Method",
    "UnlearnTask",
    "run_attack_suite",
]
