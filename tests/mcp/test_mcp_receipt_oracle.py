"""Neither an erasure receipt nor stats may be an oracle on memories the agent cannot read.

bob (a verified agent, `forget` scope) stores a word, erases it, and reads the receipt. The
receipt's index verification counted, over the whole store, how many of the erased words
some other memory still uses (`fts_vocab`), and the byte scan how many distinctive
fragments it looked for (`needles`): a word present only in alice's private namespace
changed those figures, so bob learnt that alice had written it. `stats` gave the database
and WAL sizes, which grow with what alice writes in private. Real `memoryd serve`
subprocesses over stdio, each with its agent's token."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastmcp.client.transports import StdioTransport
from mcp_helpers import CLI, call, child_env, run_client

SECRET = "Zorblaxian"  # only in alice's private namespace
ABSENT = "Quimbletor"  # nowhere in the store
SKIP = {"id", "receipt_id", "erased_ids", "salt", "seal", "completed_at", "requested_at", "timings_ms", "bytes",
        "per_file", "hash", "selectors", "cleanup"}


def _agent(home, name: str, *extra: str) -> str:
    out = subprocess.run([sys.executable, "-c", CLI, "agents", "add", name, *extra, "--json"], env=child_env(home),
                         capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)["token"]


def _serve(home, token: str) -> StdioTransport:
    return StdioTransport(sys.executable, ["-c", CLI, "serve", "--project", "none"],
                          env={**child_env(home), "MEMORYD_TOKEN": token})


def _figures(obj, path=""):
    """Every leaf of a receipt that is not an id, a time, a size or a keyed hash."""
    if isinstance(obj, dict):
        return {k2: v for k, v in obj.items() if k not in SKIP for k2, v in _figures(v, f"{path}.{k}").items()}
    return {path: obj}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("oracle")
    tokens = {"alice": _agent(h, "alice", "--private-namespace", "alice-private"), "bob": _agent(h, "bob")}

    async def alice_writes(c):
        await call(c, "remember", {"content": f"The vault passphrase is {SECRET} plus the year",
                                   "namespace": "alice-private"})

    run_client(_serve(h, tokens["alice"]), alice_writes)
    return h, tokens


def test_a_receipt_says_nothing_about_words_in_others_private_memories(home):
    h, tokens = home

    async def bob_probes(c):
        receipts = {}
        for word in (SECRET, ABSENT):
            mine = await call(c, "remember", {"content": f"{word} canary", "namespace": "default"})
            receipts[word] = await call(c, "erase", {"ids": [mine["id"]], "confirm": True})
        return receipts

    receipts = run_client(_serve(h, tokens["bob"]), bob_probes)
    assert receipts[SECRET]["erased"] == receipts[ABSENT]["erased"] == 1
    assert receipts[SECRET]["verified"] is True
    seen, control = _figures(receipts[SECRET]), _figures(receipts[ABSENT])
    assert seen == control, {k: (seen.get(k), control.get(k)) for k in seen.keys() | control.keys()
                             if seen.get(k) != control.get(k)}
    text = json.dumps(receipts[SECRET])  # nor the sizes of the store (as stats)
    assert "pages" not in text and '"bytes"' not in text and "timings_ms" not in text


def test_stats_do_not_measure_others_private_writing(home):
    h, tokens = home

    def bob_stats():
        return run_client(_serve(h, tokens["bob"]), lambda c: call(c, "stats"))

    async def alice_writes_a_lot(c):
        for i in range(12):
            await call(c, "remember", {"content": f"private diary page {i}: " + "lorem ipsum dolor " * 200,
                                       "namespace": "alice-private"})

    before = bob_stats()
    run_client(_serve(h, tokens["alice"]), alice_writes_a_lot)
    after = bob_stats()
    assert before["memories"] == after["memories"] and "alice-private" not in after["namespaces"]
    sizes = ("db_bytes", "wal_bytes")
    assert [before[k] for k in sizes] == [after[k] for k in sizes], (before, after)
    alice = run_client(_serve(h, tokens["alice"]), lambda c: call(c, "stats"))
    assert alice["db_bytes"] is not None  # nothing is hidden from alice: she sees the sizes
