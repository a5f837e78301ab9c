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
