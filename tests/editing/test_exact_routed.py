"""Routed serving on the exact path (issue 20): `adapt --shards K` serves K shard models behind a
router (editing/routing.py) instead of one summed checkpoint; an erasure's STAMP step edits only
the shards that complete the erased memory; the shard retrain then promotes exactly the routed
model a from-scratch adaptation without the memory builds. Real tiny models, a real App on a
real SQLite file, the real CLI."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from memoryd.cli import app as cli
from memoryd.editing.prompts import fact_probes, words
from memoryd.editing.routing import is_routed, shard_dir
from memoryd.editing.shards import compose, reproduced
from memoryd.erasure.models import ErasureRequest
from memoryd.errors import EditingError
from memoryd.services.model_shards import shard_of

from .exact_helpers import LORA, adapt_sharded, digests, shard_tensors
from .ledger_helpers import completes

K2 = 2


@pytest.fixture(scope="module")
def base_cache(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path_factory.mktemp("routed-base")
    torch.set_num_threads(threads)


def _in_thread(fn):
    """Run `fn` on a fresh thread, as the edit jobs run (same torch thread setup as the retrain)."""
    box: dict = {}
    t = threading.Thread(target=lambda: box.setdefault("r", fn()))
    t.start()
    t.join()
    return box["r"]


@pytest.mark.parametrize("stamp_fails", [False, True], ids=["stamp-verifies", "stamp-withdrawn"])
def test_routed_exact_path_end_to_end(app, settings, tmp_path, base_cache, capsys, monkeypatch, stamp_fails):
    if stamp_fails:  # what a STAMP edit that does not verify leads to (seen once in a full suite run)
        monkeypatch.setattr(type(app.models.jobs), "_stamp", lambda self, *a, **k: (None, "forced by the test"))
    data, mems, out = adapt_sharded(app, tmp_path, base_cache, k=K2)
    base = tmp_path / "base"
    texts = [m.content for m in mems]
    # the served model is routed: K shard checkpoints + routing.json, and it completes every
    # memory the ledger says it absorbed
    assert is_routed(out) and data["routed"] == K2 and data["sharding"]["k"] == K2
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == [f"shard-{i}" for i in range(K2)]
    absorbed = set(data["adapt"]["absorbed_ids"])
    assert all(all(completes(out, m.content)) for m in mems if m.id in absorbed)
    missed = [m for m in mems if m.id not in absorbed]
    own_shard = [all(completes(shard_dir(out, shard_of(m.id, K2)), m.content)) for m in missed]
    with capsys.disabled():
        print(f"\nnot reproduced by the routed model: {len(missed)}; of them completed by their own shard "
              f"(a routing miss): {sum(own_shard)}")
    # routing loses nothing: a memory the routed model misses is one its own shard's training
    # missed (seen: 0 misses in most runs, 1-2 of 8 in some; never a routing miss)
    assert not any(own_shard) and len(absorbed) >= len(mems) // 2
    # the summed model of the same adapters (what was served before) loses memories
    adapters = {s["shard"]: Path(s["adapter_path"]) for s in data["sharding"]["shards"]}
    compose(base, [adapters[i] for i in range(K2)], tmp_path / "summed")
    summed = reproduced(tmp_path / "summed", texts)
    with capsys.disabled():
        print(f"\nrouted reproduces {len(absorbed)}/{len(mems)}, summed {sum(summed)}/{len(mems)}")
    assert sum(summed) < len(absorbed)

    victim = next(m for m in mems if m.id in absorbed)
    kept = [m for m in mems if m.id != victim.id]
    own = {i: any(completes(shard_dir(out, i), victim.content)) for i in range(K2)}
    assert own[shard_of(victim.id, K2)]
    before = {i: digests(shard_dir(out, i)) for i in range(K2)}
    seen: dict = {}

    def at_stamp(path: str) -> None:  # the STAMP-edited routed model is served; the retrain waits
        seen["served"] = is_routed(out)  # False: the edit did not verify and the model was withdrawn
        if not seen["served"]:
            return
        seen["digests"] = {i: digests(shard_dir(out, i)) for i in range(K2)}
        seen["victim"] = completes(out, victim.content)
        seen["kept"] = [all(completes(out, m.content)) for m in kept]

    def at_edit(vid: str) -> None:  # the erasure committed, STAMP not yet run: the model is not served
        for target in ("people-lm", str(out), str(shard_dir(out, 0))):
            try:
                app.models.complete(target, "x")
            except EditingError as exc:
                seen.setdefault("refused", []).append(str(exc))

    app.models.jobs.before_edit = at_edit
    app.models.exact.before_retrain = at_stamp
    receipt = app.erasure.execute(ErasureRequest(memory_ids=(victim.id,)), confirm=True)
    assert app.models.wait_for_edits(600)
    receipt = app.erasure.receipt(receipt.id)
    notes = receipt.body["hooks"]["ledger"]
    assert receipt.ok and "pending" not in notes
    assert len(seen["refused"]) == 3 and all("not loadable" in r for r in seen["refused"])
    assert not (stamp_fails and seen["served"])  # a forced failure is never served
    if not seen["served"]:
        # Seen once in a full suite run (memory ids, hence shards, are random): STAMP on a tiny
        # shard left 1 of 3 probes completed after the stronger retry too. The contract then:
        # nothing of the old model is served (withdrawn, its weights gone) and the shard retrain
        # still promotes the model a from-scratch adaptation builds, checked below.
        edits = [e for v in app.models.list() for e in app.models.show(v["id"]).get("edits", [])]
        assert any(e.get("outcome") == "withdrawn" for e in edits), edits
        assert not any(v["method"] == "stamp" for v in app.models.list())
        with capsys.disabled():
            print("STAMP on the routed model did not verify: withdrawn until the retrain (checked below)")
    else:
        assert notes["models_edited"] == 1
        _check_stamp_step(app, out, own, before, seen, kept, absorbed, capsys)
    _check_retrain(app, settings, tmp_path, base, out, victim, kept, absorbed, capsys)


def _check_stamp_step(app, out, own, before, seen, kept, absorbed, capsys) -> None:
    assert len([v for v in app.models.list() if v["method"] == "stamp"]) == 1
    # STAMP edited exactly the shards whose own model completed the erased memory
    stamp = next(v for v in app.models.list() if v["method"] == "stamp")
    assert stamp["metrics"]["verification"]["shards_edited"] == [i for i in range(K2) if own[i]]
    ver = stamp["metrics"]["verification"]
    assert ver["erased"] is True and ver["forget_exact_after"] == 0.0 < ver["forget_exact_before"]
    with capsys.disabled():
        print("STAMP on the routed model: " + ", ".join(f"{k} {ver[k]}" for k in (
            "forget_exact_before", "forget_exact_after", "retain_exact_before", "retain_exact_after", "retain_ratio",
            "perplexity_before", "perplexity_after", "edit_seconds", "shards_edited")))
    for i in range(K2):
        assert (seen["digests"][i] == before[i]) == (not own[i])
    assert not any(seen["victim"])
    with capsys.disabled():
        print(f"after STAMP on the routed model (shards edited {[i for i in range(K2) if own[i]]}): kept memories "
              f"completed {sum(seen['kept'])}/{len(kept)}")
    n_kept = sum(m.id in absorbed for m in kept)  # kept memories the routed model reproduced before
    assert sum(seen["kept"]) >= n_kept - 1


def _check_retrain(app, settings, tmp_path, base, out, victim, kept, absorbed, capsys) -> None:
    n_kept = sum(m.id in absorbed for m in kept)
    # after the retrain: exactly the routed model adapt builds from scratch without the memory
    assert [v["method"] for v in app.models.list() if v["status"] == "active"] == ["shard-retrain"]
    assert not any(completes(out, victim.content))
    kept_after = [all(completes(out, m.content)) for m in kept]
    lost = [m for m, ok in zip(kept, kept_after) if not ok]
    by_own = [all(completes(shard_dir(out, shard_of(m.id, K2)), m.content)) for m in lost]
    with capsys.disabled():
        print(f"after the retrain: kept memories completed {sum(kept_after)}/{len(kept)}; of those lost, completed "
              f"by their own shard (a routing miss): {sum(by_own)}/{len(lost)}; in the retrained shard: "
              f"{sum(shard_of(m.id, K2) == shard_of(victim.id, K2) for m in lost)}")
    # no routing miss; a retrained shard's training may miss a memory (seen: 1 in 12 runs)
    assert not any(by_own) and sum(kept_after) >= n_kept - 2
    cfg = replace(LORA, lora=True, device="cpu")
    scratch = tmp_path / "scratch" / "people-lm"
    _in_thread(lambda: app.models.exact.train(base.resolve(), scratch, kept, K2, cfg))
    served, fresh = shard_tensors(out), shard_tensors(scratch)
    assert served.keys() == fresh.keys() == {f"shard-{i}" for i in range(K2)}
    for name, tensors in served.items():
        assert tensors.keys() == fresh[name].keys()
        assert all(torch.equal(t, fresh[name][n]) for n, t in tensors.items()), name
    assert json.loads((out / "routing.json").read_text()) == json.loads((scratch / "routing.json").read_text())
    assert all(digests(shard_dir(out, i)) == digests(shard_dir(scratch, i)) for i in range(K2))  # byte-identical

    # query the served (routed) model and a plain one from the CLI
    app.close()
    probe = fact_probes(next(m for m, ok in zip(kept, kept_after) if ok).content)[0]
    run = ["--home", str(settings.home), "--db", str(settings.db_path), "models", "complete"]
    res = CliRunner().invoke(cli, [*run, "people-lm", probe.prompt, "--max-tokens", "12", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["routed"] is True and got["k"] == K2 and got["shard"] in range(K2)
    assert got["model"] == str(out.resolve())
    res = CliRunner().invoke(cli, [*run, str(shard_dir(out, got["shard"])), probe.prompt, "--max-tokens", "12",
                                   "--json"])  # one shard of it, as a plain model: the same answer
    assert res.exit_code == 0, res.output
    one = json.loads(res.stdout)
    assert one["routed"] is False and one["completion"] == got["completion"]
    assert words(got["completion"])[: len(words(probe.answer))] == words(probe.answer)
    res = CliRunner().invoke(cli, [*run, str(base), probe.prompt, "--max-tokens", "5", "--json"])
    assert res.exit_code == 0, res.output
    plain = json.loads(res.stdout)
    assert plain["routed"] is False and plain["shard"] is None and plain["max_tokens"] == 5
    res = CliRunner().invoke(cli, [*run, str(tmp_path / "nowhere"), "x", "--json"])
    assert res.exit_code != 0


def test_the_services_torch_free_marker_matches_the_routed_format(tmp_path):
    """services/model_jobs.has_weights (no torch) recognises what editing/routing.py writes."""
    from memoryd.editing.routing import ROUTING_FILE, write_routing
    from memoryd.editing.tiny import TINY_TEST, build_tiny
    from memoryd.services import model_jobs

    assert model_jobs.ROUTING_FILE == ROUTING_FILE
    _, tok = build_tiny(["Ada lives in Oslo.", "Bo works at Acme."], tmp_path / "plain", TINY_TEST)
    assert model_jobs.has_weights(tmp_path / "plain") and not model_jobs.has_weights(tmp_path / "empty")
    write_routing(tmp_path / "routed", 2, tok)
    assert model_jobs.has_weights(tmp_path / "routed") and is_routed(tmp_path / "routed")
