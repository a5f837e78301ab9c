"""Which evidence may hide a memory, and which may only nudge ranking (pure).

Trust v2 (docs/trust.md, "Tiers") splits every record into one of three tiers:

* ``standing`` -- may move a subject's Beta standing and so, past the line, quarantine:
  content evidence about the subject's *own* writes (injection, hidden Unicode, triggers,
  answer planting, write-time query stuffing, contradicting an established memory), what
  memoryd observed in its favour (accepted writes, independent corroboration, praise from
  independent readers) and everything the operator said (vouch, flag, its CLI feedback);
* ``behaviour`` -- weak behavioural signals (near-duplicates, bursts, deletes soon after
  writing, self-praise) and what *other agents* said against it (feedback wrong/harmful):
  a bounded ranking penalty, never a quarantine;
* ``ignored`` -- evidence from reads: a query that resembles a memory says nothing about
  its author (recall-time query stuffing of logs written before v2 is skipped).

So no sequence of reads, feedback or cohort moves by other agents can lower anyone's
standing: the only inputs to it are the subject's own content, memoryd's positive
observations and the operator.
"""

from __future__ import annotations

from typing import Literal

from .evidence import POLARITY, Evidence, EvidenceKind as K

__all__ = ["Tier", "WEAK_KINDS", "CONTENT_KINDS", "tier", "is_content_evidence"]

Tier = Literal["standing", "behaviour", "ignored"]

WEAK_KINDS = frozenset(
    {K.NEAR_DUPLICATE_FLOOD, K.WRITE_BURST, K.DELETED_SOON_AFTER_WRITE, K.SELF_CORROBORATION_ATTEMPT}
)
# strong evidence about what a memory says: the only agent-independent grounds for quarantine
CONTENT_KINDS = frozenset(
    {K.INJECTION_PATTERN, K.HIDDEN_UNICODE, K.TRIGGER_INSTRUCTION, K.ANSWER_PLANTING, K.QUERY_STUFFING,
     K.CONTRADICTS_TRUSTED}
)


def _from_a_read(ev: Evidence) -> bool:
    return ev.details.get("phase") == "recall"


def tier(ev: Evidence) -> Tier:
    if _from_a_read(ev):
        return "ignored"
    if ev.kind in WEAK_KINDS:
        return "behaviour"
    if POLARITY[ev.kind] < 0 and ev.source_agent_id is not None:
        return "behaviour"  # another agent's word against it: bounded, never a quarantine
    return "standing"


def is_content_evidence(ev: Evidence) -> bool:
    """Strong, write-time evidence about a memory's own content."""
    return ev.kind in CONTENT_KINDS and not _from_a_read(ev) and ev.source_agent_id is None
