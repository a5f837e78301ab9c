"""The server answers initialize and tools/list before the model and the indexes are loaded.

The order is made observable with a gate in front of the real embedder: until the test opens
it, the model counts as "still loading". No timings are involved."""

from __future__ import annotations

import asyncio
import threading

from fastmcp import Client

from memoryd.app import App
from memoryd.mcp import create_server
from memoryd.models import NewMemory, Provenance


class GatedEmbedder:
    """The real embedder behind a gate the test opens (a model that takes as long as we like)."""

    def __init__(self, inner):
        self.inner = inner
        self.gate = threading.Event()
        self.waiting = threading.Event()  # someone needed the model while the gate was closed

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def wait_ready(self):
        if not self.gate.is_set():
            self.waiting.set()
        self.gate.wait()
        return self

    def encode(self, texts, **kw):
        self.wait_ready()
        return self.inner.encode(texts, **kw)

    def close(self) -> None:
        pass


def test_initialize_and_tools_list_answered_before_the_model_is_loaded(settings, embedder):
    seed = App(settings, embedder=embedder)  # a stored memory the first recall must find
    seed.memories.remember_many([NewMemory(content="The staging DB listens on port 6432 behind pgbouncer",
                   provenance=Provenance(agent_id="seed"))])
    seed.close()

    gated = GatedEmbedder(embedder)
    app = App(settings, embedder=gated)
    server = create_server(app, agent_id="alice")

    async def go():
        async with Client(server) as client:  # MCP initialize (the lifespan has started warming)
            initialized_while_loading = not gated.gate.is_set() and app.memories.indexes.vectors is None
            tools = {t.name for t in await client.list_tools()}
            listed_while_loading = not gated.gate.is_set() and app.memories.indexes.vectors is None
            recall = asyncio.create_task(client.call_tool("recall", {"query": "staging postgres port"}))
            await asyncio.to_thread(gated.waiting.wait, 60)  # the warm thread or recall waits on the model
            await asyncio.sleep(0)
            assert not recall.done()  # the first call that needs the model waits for it
            gated.gate.set()
            res = await recall
            return initialized_while_loading, tools, listed_while_loading, res.data

    valve = threading.Timer(60, gated.gate.set)  # if initialize waited for the model: fail, don't hang
    valve.start()
    try:
        init_ok, tools, list_ok, data = asyncio.run(go())
    finally:
        valve.cancel()
        gated.gate.set()
        app.close()
    assert init_ok, "initialize was answered only after the model and index were loaded"
    assert {"remember", "recall"} <= tools and list_ok
    assert data["hits"] and "6432" in data["hits"][0]["content"]
