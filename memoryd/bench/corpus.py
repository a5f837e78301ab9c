"""A deterministic synthetic corpus of developer notes, with queries whose answer is known.

Every memory is one fact of a type (version pin, flaky test, env var, port, owner, ...)
about one (project, component) pair, so (type, project, component) identifies it. Half
of the queries paraphrase the fact with synonyms and leave out its values (meaning
matters: many memories share the project, the component or the wording); the other half
look a fact up by an exact identifier it contains (a port, a ticket number, a path, an
env var: tokens an embedding barely tells apart). Keyword search alone and meaning alone
each miss some of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Doc", "Query", "Corpus", "make_corpus", "TOPICS"]

_ADJ = ("orion amber cobalt delta ember falcon granite harbor indigo jade kepler lumen "
        "marble nimbus onyx polar quartz raven sierra tundra umber vortex willow xenon yarrow zephyr").split()
_NOUN = "api ledger portal engine relay vault pipeline gateway console atlas".split()
_PART = ("billing auth search payments notifications reporting ingest export scheduler upload "
         "checkout profile inventory analytics audit").split()
_ROLE = "worker gateway indexer service cache client daemon adapter".split()
_ROLE_SYN = {"worker": "background job", "gateway": "proxy", "indexer": "index builder", "service": "backend",
             "cache": "caching layer", "client": "SDK", "daemon": "long-running process", "adapter": "connector"}
_LIB = ("psycopg sqlalchemy pydantic fastapi celery redis-py boto3 requests httpx numpy pandas grpcio "
        "protobuf uvicorn alembic pytest jinja2 cryptography pyjwt orjson").split()
_PEOPLE = ("Ana Kovac, Bruno Silva, Chen Wei, Dana Whitfield, Emeka Obi, Farah Haddad, Gustav Lind, "
           "Hana Sato, Ivan Petrov, Julia Moreau, Kofi Mensah, Lena Fischer, Mateo Ruiz, Nadia Rahman, "
           "Oscar Nilsson, Priya Nair, Quinn Walsh, Rosa Ortega, Sami Laine, Tara Byrne").split(", ")
_ERR = ("KeyError, TimeoutError, a segfault, OOM kills, a deadlock, UnicodeDecodeError, a 502 from the proxy, "
        "ConnectionResetError, a race on startup, stale cache reads").split(", ")
_TECH = ("Postgres, SQLite, Redis, Kafka, RabbitMQ, S3, DynamoDB, Elasticsearch, gRPC, GraphQL, "
         "Celery, Temporal, nginx, Envoy").split(", ")
_ENV = "staging production canary eu-west preview".split()
_CI = "GitHub Actions, GitLab CI, Buildkite, Jenkins, ArgoCD".split(", ")


@dataclass(frozen=True)
class Doc:
    key: str  # type/project/component: unique per memory
    text: str
    topic: str  # fact type, used as the known topic label
    project: str
    component: str


@dataclass(frozen=True)
class Query:
    text: str
    relevant: str  # Doc.key of the memory that answers it


@dataclass
class Corpus:
    docs: list[Doc]
    queries: list[Query]


def _p(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def _fact(topic: str, proj: str, comp: str, comp_syn: str, rng: random.Random) -> tuple[str, str, str]:
    """(memory text, paraphrase query, identifier query) for one fact."""
    lib, ver = _p(rng, _LIB), f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    person, err = _p(rng, _PEOPLE), _p(rng, _ERR)
    t1, t2 = rng.sample(_TECH, 2)
    port = rng.randint(1025, 65000)
    env = _p(rng, _ENV)
    slug = comp.replace(" ", "_")
    path = f"{proj.split('-')[0]}/{slug}/{_p(rng, ['settings', 'main', 'config', 'tasks', 'models'])}.py"
    var = f"{proj.split('-')[0].upper()}_{slug.upper()}_{_p(rng, ['URL', 'TIMEOUT', 'POOL_SIZE', 'TOKEN', 'REGION'])}"
    n = rng.randint(2, 40)
    issue, mig = rng.randint(100, 99999), rng.randint(1, 9999)
    if topic == "pin":
        return (f"In {proj} we pinned {lib} to {ver} for the {comp}: newer releases broke {_p(rng, ['connection pooling', 'retries', 'serialization', 'timezone handling'])}.",
                f"why is {lib} held back to an old release in {proj}'s {comp_syn}?", f"{lib} {ver} pinned, which component?")
    if topic == "flaky":
        return (f"The test test_{slug}_{rng.randint(1, 99)} in {proj} is flaky when the {comp} starts before the database; rerun it with --lf, the fix is tracked in #{issue}.",
                f"{proj} {comp_syn} test fails intermittently on CI, what's going on", f"issue #{issue} flaky test")
    if topic == "env":
        return (f"{proj}'s {comp} reads its connection string from the environment variable {var} (default empty; set it in .env).",
                f"which env setting configures {proj} {comp_syn}", f"what reads {var}?")
    if topic == "port":
        return (f"The {comp} of {proj} listens on port {port} locally and behind {t1} in {env}.",
                f"what port number does the {comp_syn} in {proj} bind to", f"what is listening on {port}")
    if topic == "owner":
        return (f"{person} owns the {comp} in {proj}; ask them before changing {path}.",
                f"who is the maintainer responsible for {proj}'s {comp_syn}", f"who should approve edits to {path}")
    if topic == "bug":
        return (f"Bug in {proj}: the {comp} crashed with {err} under load; fixed by bounding the queue to {n * 100} items.",
                f"how did we resolve the crash of the {comp_syn} in {proj}", f"queue bounded to {n * 100} items in {proj}, why?")
    if topic == "command":
        return (f"To rebuild the {comp} index in {proj} run `make reindex-{slug} ENV={env}` (takes about {n} minutes).",
                f"command to regenerate the {comp_syn} index for {proj}", f"how long does make reindex-{slug} ENV={env} take in {proj}")
    if topic == "decision":
        return (f"Decision for {proj}: the {comp} uses {t1} instead of {t2} because {t2} could not keep ordering guarantees.",
                f"why did {proj} pick {t1} rather than {t2} for its {comp_syn}", f"{proj} {t1} vs {t2} ordering guarantees")
    if topic == "perf":
        return (f"The {comp} in {proj} became {n}x faster after we batched writes and added an index on created_at.",
                f"what sped up {proj}'s {comp_syn} so much", f"{n}x speedup after batching writes in {proj}")
    if topic == "deploy":
        return (f"{proj} ships the {comp} to {env} with {_p(rng, _CI)}; the pipeline is defined in deploy/{slug}.yml.",
                f"where is the {env} release pipeline for the {proj} {comp_syn} configured", f"what does deploy/{slug}.yml deploy in {proj}")
    if topic == "limit":
        return (f"Rate limit for the {comp} of {proj} is {n * 50} requests per minute per tenant; raise it in {path}.",
                f"how many calls per minute may a tenant make to {proj} {comp_syn}", f"{n * 50} requests per minute limit, where is it set in {proj}")
    if topic == "schema":
        return (f"Migration {mig:04d} in {proj} added a nullable column {slug}_id to the {comp} table; backfill runs nightly.",
                f"which schema change added a column for the {comp_syn} in {proj}", f"what did migration {mig:04d} in {proj} change")
    raise AssertionError(topic)


TOPICS = ("pin", "flaky", "env", "port", "owner", "bug", "command", "decision", "perf", "deploy", "limit", "schema")


def make_corpus(n_docs: int, n_queries: int = 200, seed: int = 0) -> Corpus:
    rng = random.Random(seed)
    projects = [f"{a}-{b}" for a in _ADJ for b in _NOUN]  # 250
    components = [f"{p} {r}" for p in _PART for r in _ROLE]  # 120
    rng.shuffle(projects)
    rng.shuffle(components)
    total = len(TOPICS) * len(projects) * len(components)
    if n_docs > total:
        raise ValueError(f"at most {total} distinct memories")
    docs: list[Doc] = []
    qtexts: dict[str, str] = {}
    seen: set[tuple[int, int, int]] = set()
    while len(docs) < n_docs:
        ti, pi, ci = rng.randrange(len(TOPICS)), rng.randrange(len(projects)), rng.randrange(len(components))
        if (ti, pi, ci) in seen:
            continue
        seen.add((ti, pi, ci))
        topic, proj, comp = TOPICS[ti], projects[pi], components[ci]
        part, role = comp.split(" ")
        comp_syn = f"{part} {_ROLE_SYN[role]}" if rng.random() < 0.6 else comp
        text, q_para, q_ident = _fact(topic, proj, comp, comp_syn, rng)
        key = f"{topic}/{proj}/{comp}"
        docs.append(Doc(key, text, topic, proj, comp))
        qtexts[key] = (q_para, q_ident)
    qrng = random.Random(seed + 1)
    picked = qrng.sample(range(len(docs)), min(n_queries, len(docs)))
    # half paraphrases (meaning matters), half identifier look-ups (exact tokens matter)
    queries = [Query(qtexts[docs[i].key][j % 2], docs[i].key) for j, i in enumerate(picked)]
    return Corpus(docs, queries)
