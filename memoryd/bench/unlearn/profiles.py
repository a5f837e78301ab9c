"""Deterministic synthetic personal-profile memories for the unlearning benchmark and tests.

Each profile is one memory such as
"Alice Novak's email is anovak@kestrel.org. She lives in Graz and works as a radiologist."
Emails use a random domain and format so they cannot be guessed from the name alone.
Refusal texts give the model a way to say it does not know (real LLMs already have one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...editing.prompts import REFUSAL_PROMPTS

__all__ = ["Profile", "make_profiles", "REFUSALS", "refusal_corpus"]

FIRST_F = ["Alice", "Maria", "Sofia", "Elena", "Clara", "Nora", "Lena", "Mila", "Ida", "Vera",
           "Hanna", "Julia", "Emma", "Lara", "Ines", "Rosa", "Greta", "Tara", "Zoe", "Paula"]
FIRST_M = ["Bruno", "Karl", "Felix", "Jonas", "Lukas", "Milan", "Oskar", "Tomas", "Viktor", "Emil",
           "Hugo", "Anton", "David", "Leon", "Marco", "Niko", "Pavel", "Samir", "Theo", "Ivan"]
LAST = ["Novak", "Berger", "Horvat", "Kovac", "Weber", "Fischer", "Wagner", "Huber", "Bauer", "Moser",
        "Lindner", "Steiner", "Hofer", "Brandt", "Keller", "Vogel", "Krause", "Richter", "Wolf", "Jansen",
        "Petrov", "Marin", "Costa", "Silva", "Rossi", "Ferrari", "Dubois", "Lambert", "Nowak", "Sato"]
CITIES = ["Graz", "Linz", "Vienna", "Prague", "Zagreb", "Ljubljana", "Munich", "Zurich", "Basel", "Lyon",
          "Porto", "Krakow", "Brno", "Bratislava", "Trieste", "Verona", "Bergen", "Aarhus", "Ghent", "Utrecht"]
JOBS = ["radiologist", "carpenter", "pilot", "librarian", "chemist", "baker", "nurse", "architect",
        "translator", "plumber", "teacher", "geologist", "pharmacist", "violinist", "electrician",
        "journalist", "veterinarian", "surveyor", "florist", "dentist"]
DOMAINS = ["kestrel.org", "mailbox.net", "orbit.io", "quill.dev", "harbor.eu", "lumen.at", "cobalt.cz",
           "fjord.no"]

# the sentences the tiny model learns to say are the ones STAMP steers erased facts toward
REFUSALS = list(REFUSAL_PROMPTS)


@dataclass(frozen=True)
class Profile:
    name: str
    email: str
    city: str
    job: str
    pronoun: str

    @property
    def text(self) -> str:
        article = "an" if self.job[0] in "aeiou" else "a"
        return (f"{self.name}'s email is {self.email}. {self.pronoun} lives in {self.city} "
                f"and works as {article} {self.job}.")


def make_profiles(n: int, seed: int = 0) -> list[Profile]:
    """`n` profiles with distinct names and emails, the same for the same seed."""
    rng = random.Random(seed)
    names = [(f, "She") for f in FIRST_F] + [(f, "He") for f in FIRST_M]
    combos = [(f, p, last) for f, p in names for last in LAST]
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} profiles")
    rng.shuffle(combos)
    out: list[Profile] = []
    for first, pronoun, last in combos[:n]:
        fmt = rng.randrange(3)
        user = [f"{first}.{last}", f"{first[0]}{last}", f"{last}{rng.randrange(10, 99)}"][fmt].lower()
        out.append(Profile(f"{first} {last}", f"{user}@{rng.choice(DOMAINS)}", rng.choice(CITIES),
                           rng.choice(JOBS), pronoun))
    return out


def refusal_corpus(repeats: int = 4) -> list[str]:
    """Plain refusal sentences mixed into adaptation so the model can refuse at all."""
    return [r for r in REFUSALS for _ in range(repeats)]
