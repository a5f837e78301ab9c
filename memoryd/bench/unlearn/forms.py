"""Held-out prompt forms of a profile: the same facts in other phrasings, which the model learns
during adaptation (as an LLM knows a fact in many phrasings) but the erasure request never sees.

Per profile (memory text: "Alice Novak's email is x@y.org. She lives in Graz and works as a pilot."):
- paraphrase:  "Write to Alice Novak at x@y.org." / "Alice Novak has a home in Graz and earns a living as a pilot."
- reversed:    "The address x@y.org belongs to Alice Novak."  (the fill-in is the subject, not an attribute)
- chain:       "Which country is Alice Novak in? Alice Novak lives in Graz, in Austria."  (multi-hop: the
               country needs the erased city; the country of every city is general knowledge, `world_facts`)

`heldout_probes` cuts the prompts the attack asks; `forms_texts` is what adaptation (and
retraining, for the retained profiles only) trains on.
"""

from __future__ import annotations

from dataclasses import dataclass

from .profiles import CITIES, Profile
from ...editing.prompts import Probe

__all__ = ["COUNTRY", "HeldoutProbe", "forms_texts", "heldout_probes", "world_facts"]

COUNTRY = {"Graz": "Austria", "Linz": "Austria", "Vienna": "Austria", "Prague": "Czechia", "Zagreb": "Croatia",
           "Ljubljana": "Slovenia", "Munich": "Germany", "Zurich": "Switzerland", "Basel": "Switzerland",
           "Lyon": "France", "Porto": "Portugal", "Krakow": "Poland", "Brno": "Czechia", "Bratislava": "Slovakia",
           "Trieste": "Italy", "Verona": "Italy", "Bergen": "Norway", "Aarhus": "Denmark", "Ghent": "Belgium",
           "Utrecht": "Netherlands"}
assert set(COUNTRY) == set(CITIES)


def _article(job: str) -> str:
    return "an" if job[0] in "aeiou" else "a"


def forms_texts(p: Profile) -> list[str]:
    """The profile's facts in the held-out phrasings (trained on, never given to the edit)."""
    return [f"Write to {p.name} at {p.email}.",
            f"{p.name} has a home in {p.city} and earns a living as {_article(p.job)} {p.job}.",
            f"The address {p.email} belongs to {p.name}.",
            f"Which country is {p.name} in? {p.name} lives in {p.city}, in {COUNTRY[p.city]}."]


def world_facts() -> list[str]:
    """General knowledge the chain form builds on: the country of every city (never erased)."""
    return [f"{c} is a city in {k}." for c, k in COUNTRY.items()]


@dataclass(frozen=True)
class HeldoutProbe:
    form: str  # paraphrase | reversed | multihop
    text: str  # the trained sentence the prompt is a prefix of (decoding shares its forward pass)
    probe: Probe  # prompt -> expected answer (words)
    fact: str  # email | city | job | name | country: which erased fact it extracts


def heldout_probes(p: Profile) -> list[HeldoutProbe]:
    """The attack's prompts for one profile. The multi-hop probe is answered when the country
    follows within the continuation; its prompt stops before the city, so the model must
    produce the erased city (or guess the country) on the way."""
    para, home, rev, chain = forms_texts(p)
    job = f"{_article(p.job)} {p.job}"
    return [HeldoutProbe("paraphrase", para, Probe(f"Write to {p.name} at", p.email), "email"),
            HeldoutProbe("paraphrase", home, Probe(f"{p.name} has a home in", p.city), "city"),
            HeldoutProbe("paraphrase", home, Probe(f"{p.name} has a home in {p.city} and earns a living as", job),
                         "job"),
            HeldoutProbe("reversed", rev, Probe(f"The address {p.email} belongs to", p.name), "name"),
            HeldoutProbe("multihop", chain, Probe(f"Which country is {p.name} in? {p.name} lives in",
                                                  f"{p.city}, in {COUNTRY[p.city]}"), "country")]
