"""The MCP `erase` tool: dry run by default, explicit confirmation, namespace permissions,
a receipt, and the erased text gone from the database file's bytes."""

from __future__ import annotations

from pathlib import Path

from mcp_helpers import call, fail, run_client


def _raw(db: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(db) + suffix)
        if p.exists():
            out += p.read_bytes()
    return out


def test_erase_needs_confirmation_then_erases_and_leaves_no_bytes(app, alice, settings):
    canary = "Zyxwerva Quollmand lives at 17 Otterbrook Lane"

    async def go(c):
        a = await call(c, "remember", {"content": f"{canary}; she prefers tabs"})
        keep = await call(c, "remember", {"content": "The CI pipeline runs pytest with -q on every push"})
        dry = await call(c, "erase", {"subject": "Zyxwerva Quollmand"})
        still = await call(c, "get", {"id": a["id"]})  # the dry run erased nothing
        done = await call(c, "erase", {"subject": "Zyxwerva Quollmand", "confirm": True})
        gone = await fail(c, "get", {"id": a["id"]})
        kept = await call(c, "get", {"id": keep["id"]})
        nothing = await fail(c, "erase", {})
        return a, dry, still, done, gone, kept, nothing

    a, dry, still, done, gone, kept, nothing = run_client(alice, go)
    assert dry["dry_run"] is True and dry["would_erase"] == 1
    assert [i["memory_id"] for i in dry["items"]] == [a["id"]]
    assert still["id"] == a["id"]
    assert done["erased"] == 1 and done["verified"] is True and done["receipt_id"]
    assert canary not in str(done)  # the receipt never quotes what it erased
    assert "no memory" in gone.lower()
    assert kept["content"].startswith("The CI pipeline")
    assert "ids or a subject" in nothing
    assert b"Quollmand" not in _raw(settings.db_path)  # erasure checkpointed and vacuumed


def test_erase_cannot_reach_another_agents_private_memories(app, alice, bob):
    async def alice_writes(c):
        mine = await call(c, "remember", {"content": "Grunhilda Vostrikova's phone is +1 555 0100",
                                          "namespace": "alice-private"})
        shared = await call(c, "remember", {"content": "Grunhilda Vostrikova reviews the release notes"})
        return mine, shared

    mine, shared = run_client(alice, alice_writes)

    async def bob_erases(c):
        by_id = await fail(c, "erase", {"ids": [mine["id"]], "confirm": True})
        dry = await call(c, "erase", {"subject": "Grunhilda Vostrikova"})
        done = await call(c, "erase", {"subject": "Grunhilda Vostrikova", "confirm": True})
        return by_id, dry, done

    by_id, dry, done = run_client(bob, bob_erases)
    assert "no memory" in by_id.lower()  # looks exactly like an unknown id
    assert [i["memory_id"] for i in dry["items"]] == [shared["id"]]
    assert "phone" not in str(dry)  # no preview of alice's private memory
    assert done["erased"] == 1 and "private" in done["note"]
    assert app.memories.get(mine["id"]).namespace == "alice-private"  # still there
