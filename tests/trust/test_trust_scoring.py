"""Beta trust: math, decay, fresh-agent ramp, sleeper, Sybil rules, memories, ranking."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest

from memoryd.errors import ValidationError
from memoryd.trust import (
    DEFAULT_PARAMS,
    AgentFacts,
    EvidenceKind,
    MemoryFacts,
    SourceStanding,
    TrustParams,
    agent_trust,
    beta_score,
    decay,
    make_evidence,
    memory_trust,
    probation_passed,
    quarantine_decision,
    rank_score,
    trust_multiplier,
)

DAY = 86_400.0
T0 = 1_700_000_000.0
P = DEFAULT_PARAMS


def ev(kind, subject="alice", *, t, src=None, s=1.0, stype="agent"):
    return make_evidence(kind, stype, subject, created_at=t, source_agent_id=src, strength=s)


def good_history(agent="alice", days=7, per_day=30, start=T0):
    """What the server records for an honest agent: accepted writes after probation."""
    return [
        ev("accepted_write", agent, t=start + d * DAY + k * 600 + 6 * 3600) for d in range(days) for k in range(per_day)
    ]


ALICE = AgentFacts("alice", T0, origin="team-a")


# ---- Beta math and decay -------------------------------------------------------------------
def test_no_evidence_is_the_uniform_prior():
    s = agent_trust([], T0)
    assert (s.alpha, s.beta, s.mean, s.n) == (1.0, 1.0, 0.5, 0)
    sd = math.sqrt(1 / (4 * 3))
    assert s.lower_bound == pytest.approx(max(0.0, 0.5 - 1.645 * sd))


def test_beta_score_mean_and_lower_bound():
    s = beta_score(9.0, 1.0)
    assert s.mean == pytest.approx(0.9)
    sd = math.sqrt(9 * 1 / (100 * 11))
    assert s.lower_bound == pytest.approx(0.9 - 1.645 * sd)
    assert beta_score(90.0, 10.0).lower_bound > s.lower_bound  # same mean, more evidence
    with pytest.raises(ValueError):
        beta_score(0.0, 1.0)


def test_each_event_adds_its_weight_to_alpha_or_beta():
    now = T0 + 10 * DAY
    s = agent_trust([ev("injection_pattern", t=now, s=0.5)], now, agent=ALICE)
    assert s.beta == pytest.approx(1 + P.kinds[EvidenceKind.INJECTION_PATTERN].agent_weight * 0.5)
    assert s.alpha == 1.0 and s.n == 1


def test_decay_halves_per_half_life():
    assert decay(0, 30) == 1.0 and decay(-5, 30) == 1.0
    assert decay(30 * DAY, 30) == pytest.approx(0.5)
    assert decay(60 * DAY, 30) == pytest.approx(0.25)
    assert decay(1e9, math.inf) == 1.0
    hl = P.kinds[EvidenceKind.WRITE_BURST].half_life_days
    fresh = agent_trust([ev("write_burst", t=T0 + 100 * DAY)], T0 + 100 * DAY, agent=ALICE)
    old = agent_trust([ev("write_burst", t=T0 + 100 * DAY)], T0 + (100 + hl) * DAY, agent=ALICE)
    assert old.beta - 1 == pytest.approx((fresh.beta - 1) / 2)


def test_future_dated_evidence_is_ignored():
    s = agent_trust([ev("feedback_harmful", t=T0 + DAY)], T0, agent=ALICE)
    assert s.beta == 1.0 and any("the future" in r for r in s.reasons)


def test_mixed_subjects_are_refused():
    with pytest.raises(ValidationError):
        agent_trust([ev("write_burst", "alice", t=T0), ev("write_burst", "bob", t=T0)], T0)
    with pytest.raises(ValidationError):
        agent_trust([ev("write_burst", "m1", t=T0, stype="memory")], T0)


# ---- earning trust, and the fresh-agent ramp -----------------------------------------------
def test_honest_agent_earns_high_trust_with_time_in_good_standing():
    s = agent_trust(good_history(), T0 + 7 * DAY, agent=ALICE)
    assert s.mean >= 0.95 and s.lower_bound >= 0.9
    two_days = [e for e in good_history() if e.created_at <= T0 + 2 * DAY]
    assert agent_trust(two_days, T0 + 2 * DAY, agent=ALICE).mean >= 0.95


def test_fresh_agent_stays_limited_however_much_good_evidence():
    burst_of_good = [ev("accepted_write", t=T0 + 60 + i) for i in range(500)]
    s = agent_trust(burst_of_good, T0 + 3600, agent=ALICE)
    cap = P.fresh_alpha_cap + P.alpha_cap_per_day / 24  # one hour old
    assert s.alpha == pytest.approx(1 + cap) and s.mean < 0.75
    assert any("capped" in r for r in s.reasons)
    # and it is the agent's age that matters, not how much evidence it produced
    day_old = agent_trust(burst_of_good, T0 + DAY, agent=ALICE)
    assert day_old.alpha == pytest.approx(1 + P.fresh_alpha_cap + P.alpha_cap_per_day, rel=1e-3)


def test_operator_vouch_bypasses_the_ramp_but_not_the_hard_cap():
    s = agent_trust([ev("operator_vouch", t=T0)], T0 + 60, agent=ALICE)
    assert s.mean > 0.9
    forged = agent_trust(
        [make_evidence("operator_vouch", "agent", "alice", created_at=T0, source_agent_id="alice")],
        T0 + 60,
        agent=ALICE,
    )
    assert forged.mean == 0.5  # an agent cannot vouch as the operator
    many = agent_trust([ev("operator_vouch", t=T0 + i) for i in range(20)], T0 + 60, agent=ALICE)
    assert many.alpha <= 1 + P.max_alpha + 1e-9


# ---- sleeper ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["injection_pattern", "query_stuffing", "trigger_instruction"])
@pytest.mark.parametrize("strength", [1.0, 0.8])
def test_sleeper_drops_80_percent_within_20_events(kind, strength):
    now = T0 + 30 * DAY
    history = good_history(days=30)
    before = agent_trust(history, now, agent=ALICE).mean
    assert before >= 0.95
    means = []
    evs = list(history)
    for k in range(1, 21):
        src = None if kind != "feedback_harmful" else f"reviewer{k}"
        evs.append(ev(kind, t=now + k * 60, s=strength, src=src))
        sources = {
            f"reviewer{k}": SourceStanding(AgentFacts(f"reviewer{k}", T0 - 90 * DAY), 0.95) for k in range(1, 21)
        }
        means.append(agent_trust(evs, now + k * 60 + 1, agent=ALICE, sources=sources).mean)
    assert means[-1] <= 0.2 * before, means
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(means))  # monotone


@pytest.mark.parametrize("kind", ["feedback_harmful", "feedback_wrong"])
def test_other_agents_complaints_only_nudge_ranking(kind):
    """Trust v2: what other agents say against an agent is behaviour-tier evidence. Twenty
    distinct, established reviewers cost it at most behaviour_max_penalty of ranking and
    never its standing (no sequence of calls by others can push it below the quarantine line)."""
    now = T0 + 30 * DAY
    evs = list(good_history(days=30))
    before = agent_trust(evs, now, agent=ALICE)
    sources = {f"reviewer{k}": SourceStanding(AgentFacts(f"reviewer{k}", T0 - 90 * DAY), 0.95) for k in range(1, 21)}
    evs += [ev(kind, t=now + k * 60, src=f"reviewer{k}") for k in range(1, 21)]
    after = agent_trust(evs, now + 30 * 60, agent=ALICE, sources=sources)
    assert after.mean == pytest.approx(before.mean)
    assert 0 < after.penalty <= P.behaviour_max_penalty
    assert any("never a quarantine" in r for r in after.reasons)


def test_weak_signals_never_quarantine_a_fresh_agent():
    """A day-0 agent writing templated notes: near-duplicates, bursts and quick deletes by the
    thousand leave its standing at the prior; ranking pays at most behaviour_max_penalty."""
    evs = []
    for i in range(3000):
        for kind in ("near_duplicate_flood", "write_burst", "deleted_soon_after_write", "self_corroboration_attempt"):
            evs.append(ev(kind, t=T0 + i))
    s = agent_trust(evs, T0 + 3600, agent=ALICE)
    assert s.mean == pytest.approx(0.5)
    assert s.penalty == pytest.approx(P.behaviour_max_penalty)
    m = memory_trust(MemoryFacts("m1", "alice", T0), s, [ev("near_duplicate_flood", "m1", t=T0, stype="memory")], T0 + 60)
    assert not quarantine_decision(m)[0] and m.penalty <= P.behaviour_max_penalty


def test_read_time_evidence_is_ignored():
    """Recall-time query stuffing in logs written before v2: a read says nothing about the author."""
    read = make_evidence("query_stuffing", "agent", "alice", created_at=T0, details={"phase": "recall"})
    assert agent_trust([read] * 50, T0 + 60, agent=ALICE).mean == pytest.approx(0.5)


def test_sleepers_old_memories_are_rescored_from_current_author_trust():
    now = T0 + 30 * DAY
    old_memory = MemoryFacts("m-old", "alice", T0 + DAY)
    history = good_history(days=30)
    before = memory_trust(old_memory, agent_trust(history, now, agent=ALICE), [], now)
    turned = history + [ev("injection_pattern", t=now + k, s=0.9) for k in range(12)]
    after = memory_trust(old_memory, agent_trust(turned, now + 20, agent=ALICE), [], now + 20)
    assert before.mean >= 0.9
    assert after.mean <= 0.2 and quarantine_decision(after)[0]


# ---- Sybil resistance ------------------------------------------------------------------------
def _established(name, *, created=T0 - 60 * DAY, trust=0.95, origin=None):
    return SourceStanding(AgentFacts(name, created, origin), trust)


def test_self_corroboration_does_not_raise_trust():
    now = T0 + 10 * DAY
    evs = [ev("corroborated", t=now - i, src="alice") for i in range(50)]
    s = agent_trust(evs, now, agent=ALICE, sources={"alice": _established("alice")})
    assert s.mean == 0.5 and any("the author itself" in r for r in s.reasons)
    m = MemoryFacts("m1", "alice", now - DAY)
    mem = memory_trust(m, 0.5, [ev("corroborated", "m1", t=now, src="alice", stype="memory")], now)
    assert mem.mean == pytest.approx(0.5)


def test_fresh_sybil_corroboration_does_not_raise_trust():
    now = T0 + 10 * DAY
    sybils = {f"s{i}": SourceStanding(AgentFacts(f"s{i}", now - 3600 - i, f"o{i}"), 0.99) for i in range(40)}
    evs = [ev("corroborated", t=now - 10, src=name) for name in sybils]
    s = agent_trust(evs, now, agent=ALICE, sources=sybils)
    assert s.mean == 0.5
    m = MemoryFacts("m1", "alice", now - DAY)
    mem_evs = [ev("corroborated", "m1", t=now - 10, src=name, stype="memory") for name in sybils]
    assert memory_trust(m, 0.5, mem_evs, now, sources=sybils).mean == pytest.approx(0.5)


def test_unknown_low_trust_same_cohort_and_same_origin_sources_do_not_count():
    now = T0 + 10 * DAY
    bob = AgentFacts("bob", T0 + 2 * DAY, origin="laptop-1")
    sources = {
        "low": _established("low", trust=0.4),
        "cohort": _established("cohort", created=bob.created_at + 600),
        "sameorigin": _established("sameorigin", origin="laptop-1"),
    }
    evs = [ev("corroborated", "bob", t=now - 5, src=n) for n in ("low", "cohort", "sameorigin", "stranger")]
    evs += [ev("feedback_useful", "bob", t=now - 5, src=n) for n in ("cohort", "sameorigin", "stranger")]
    s = agent_trust(evs, now, agent=bob, sources=sources)
    assert s.alpha == 1.0


def test_independent_established_corroboration_counts_once_per_source():
    now = T0 + 10 * DAY
    carol = _established("carol")
    m = MemoryFacts("m1", "alice", now - DAY)
    one = memory_trust(
        m,
        0.6,
        [ev("corroborated", "m1", t=now, src="carol", stype="memory")],
        now,
        author=ALICE,
        sources={"carol": carol},
    )
    many = memory_trust(
        m,
        0.6,
        [ev("corroborated", "m1", t=now - i, src="carol", stype="memory") for i in range(30)],
        now,
        author=ALICE,
        sources={"carol": carol},
    )
    base = memory_trust(m, 0.6, [], now)
    assert one.mean > base.mean
    assert many.alpha - base.alpha <= P.per_source_cap_memory + 1e-9


def test_feedback_from_low_trust_or_young_agents_weighs_less():
    now = T0 + 10 * DAY

    def harm_from(standing):
        return (
            agent_trust(
                [ev("feedback_harmful", t=now, src=standing.facts.agent_id)],
                now,
                agent=ALICE,
                sources={standing.facts.agent_id: standing},
            ).penalty  # trust v2: another agent's complaint is a bounded ranking penalty
        )

    strong = harm_from(_established("judge"))
    weak = harm_from(_established("meh", trust=0.5))
    young = harm_from(_established("kid", created=now - 3600))
    nobody = harm_from(_established("floor", trust=0.3))
    assert strong > weak > 0 and strong > young > 0 and nobody == 0


def test_one_hostile_source_cannot_sink_an_honest_agent():
    now = T0 + 30 * DAY
    troll = _established("troll")
    evs = good_history(days=30) + [ev("feedback_harmful", t=now + i, src="troll") for i in range(200)]
    s = agent_trust(evs, now + 300, agent=ALICE, sources={"troll": troll})
    assert s.mean >= 0.85


def test_self_declared_importance_never_changes_trust():
    now = T0 + DAY
    lo = memory_trust(MemoryFacts("m1", "alice", now, importance=0.0), 0.5, [], now)
    hi = memory_trust(MemoryFacts("m1", "alice", now, importance=1.0), 0.5, [], now)
    assert lo == hi


# ---- memories ----------------------------------------------------------------------------------
def test_memory_trust_inherits_author_and_moves_with_its_own_evidence():
    now = T0 + DAY
    m = MemoryFacts("m1", "alice", now)
    assert memory_trust(m, 0.9, [], now).mean == pytest.approx(0.9, abs=0.02)
    hit = memory_trust(m, 0.9, [ev("injection_pattern", "m1", t=now, s=0.9, stype="memory")], now)
    assert hit.mean < 0.5
    fresh_author_hit = memory_trust(m, 0.5, [ev("injection_pattern", "m1", t=now, s=0.9, stype="memory")], now)
    assert quarantine_decision(fresh_author_hit)[0]
    with pytest.raises(ValueError):
        memory_trust(m, 1.5, [], now)


def test_probation_turns_clean_writes_into_accepted_writes():
    now = T0 + DAY
    mems = [MemoryFacts(f"m{i}", "alice", now - h * 3600) for i, h in enumerate((1, 5, 7, 30))]
    out = probation_passed(mems, flagged={"m3"}, now=now)
    assert [e.details["memory_id"] for e in out] == ["m2"]
    assert out[0].kind is EvidenceKind.ACCEPTED_WRITE and out[0].subject_id == "alice" and out[0].weight > 0


# ---- ranking and quarantine ----------------------------------------------------------------------
def test_trust_multiplier_shape():
    assert trust_multiplier(1.0) == trust_multiplier(P.rank_full_trust) == 1.0
    assert trust_multiplier(0.0) == trust_multiplier(P.rank_zero_trust) == P.rank_floor
    xs = [i / 100 for i in range(101)]
    ms = [trust_multiplier(x) for x in xs]
    assert all(b >= a for a, b in itertools.pairwise(ms))


def test_rank_score_keeps_trusted_order_and_sinks_untrusted():
    rrf = [1 / (60 + r) for r in range(1, 11)]
    assert rank_score(rrf[0], 0.96) > rank_score(rrf[1], 0.99)  # honest agents never reorder
    # trust v2: a newcomer with no evidence against it (0.5) is not a suspect: relevance untouched
    assert rank_score(rrf[0], 0.5) == rrf[0] and rank_score(rrf[0], 0.5) > rank_score(rrf[1], 0.99)
    assert rank_score(rrf[0], 0.35) < rank_score(rrf[9], 0.9)  # evidence against it: sinks below trusted
    assert rank_score(rrf[0], 0.2) < rank_score(rrf[9], 0.76) / 10
    assert rank_score(1.0, 0.9, penalty=0.5) == pytest.approx(1.0 - P.behaviour_max_penalty)  # penalty bounded
    with pytest.raises(ValueError):
        rank_score(-1.0, 0.5)


def test_quarantine_threshold():
    q, why = quarantine_decision(0.1)
    assert q and "below" in why
    assert not quarantine_decision(beta_score(9, 1))[0]
    strict = replace(P, quarantine_below=0.95)
    assert quarantine_decision(0.9, strict)[0]


def test_params_are_validated():
    with pytest.raises(ValueError):
        TrustParams(rank_zero_trust=0.8, rank_full_trust=0.7)
    with pytest.raises(ValueError):
        TrustParams(kinds={})
