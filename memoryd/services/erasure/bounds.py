"""The authority bound on an erasure plan (services/authority.py, docs/security.md).

The operator's plan is the whole plan. An agent's plan keeps only the memories it may
delete: with the 'erase' scope every memory it can read, without it only the memories it
wrote itself ('forget'). Near misses are bounded the same way, and the planner's notes,
which count over the whole store, are replaced by one that counts only what the agent
asked for: a dry run says nothing about memories the agent cannot reach.

The receipt an agent gets back (``receipt_view``) leaves out the verification figures that
count over the whole store: how many of the erased words no surviving memory uses
(``fts_vocab``) and how many distinctive fragments the byte scan looked for (``needles``).
Both moved when a word was in a memory the agent cannot read, so erasing a one-word note
told it whether anyone else had written that word. The sizes of the store (bytes scanned,
pages free, step timings) go too, as in ``App.stats``. The operator's receipt (CLI, UI,
the audit log) keeps them all.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from ...erasure.models import ErasurePlan, ErasureReceipt, PlanItem
from ..authority import Caller

__all__ = ["bound_plan", "receipt_view"]

STORE_WIDE_VOCAB = ("erased_terms", "exclusive_terms", "still_indexed")  # counted against every memory


def _reachable(caller: Caller, item: PlanItem) -> bool:
    if not caller.can_use(item.namespace):
        return False
    return caller.has("erase") or caller.owns(item.agent_id)


def bound_plan(plan: ErasurePlan, caller: Caller) -> ErasurePlan:
    if caller.operator:
        return plan
    if not (caller.has("erase") or caller.has("forget")):
        caller.require("erase", "erase memories")
    items = tuple(i for i in plan.items if _reachable(caller, i))
    near = tuple(i for i in plan.near_misses if _reachable(caller, i))
    redact = tuple(i for i in plan.redactions if _reachable(caller, i))  # field-level edits: same bound
    notes: list[str] = []
    listed = {i.memory_id for i in items}
    missing = [m for m in plan.request.memory_ids if m not in listed and m not in plan.request.exclude_ids]
    if missing:
        notes.append(f"{len(missing)} requested memory id(s) not found or not yours to erase")
    if not caller.has("erase"):
        notes.append("without the 'erase' scope only memories you wrote yourself are listed")
    if caller.max_destructive is not None and len(items) > caller.max_destructive:
        notes.append(f"{len(items)} memories is above the limit of {caller.max_destructive} per MCP call: "
                     "the erasure must be run by the user from the CLI")
    return dataclasses.replace(plan, items=items, near_misses=near, redactions=redact, notes=tuple(notes))


def receipt_view(receipt: ErasureReceipt, caller: Caller) -> dict[str, Any]:
    """The receipt as `caller` may see it (see the module docstring)."""
    out = receipt.to_dict()
    if caller.operator:
        return out
    out = copy.deepcopy(out)
    out.pop("timings_ms", None)
    verification = out.get("verification", {})
    vocab = verification.get("fts_vocab")
    if isinstance(vocab, dict):
        for key in STORE_WIDE_VOCAB:
            vocab.pop(key, None)
    scan = verification.get("content_scan")
    if isinstance(scan, dict):
        scan.pop("needles", None)
        scan.pop("bytes", None)
        for f in scan.get("per_file", ()):
            if isinstance(f, dict):
                f.pop("bytes", None)
    cleanup = out.get("cleanup")
    if isinstance(cleanup, dict) and isinstance(cleanup.get("vacuum"), str):
        cleanup["vacuum"] = cleanup["vacuum"].split(" ", 1)[0]  # "done" / "skipped", without page counts
    return out
