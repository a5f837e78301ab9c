"""A small memoryd MCP client with fastmcp.

    # HTTP: start the server, issue a token, then run this with it
    memoryd serve --http --port 8765 &
    export MEMORYD_TOKEN=$(memoryd agents add my-script --json | python -c 'import json,sys; print(json.load(sys.stdin)["token"])')
    python examples/python_client.py http://127.0.0.1:8765/mcp

    # stdio: the client launches `memoryd serve --agent my-script` itself
    python examples/python_client.py
"""

from __future__ import annotations

import asyncio
import os
import sys

from fastmcp import Client
from fastmcp.client.transports import StdioTransport


async def main(url: str | None) -> None:
    if url:
        client = Client(url, auth=os.environ["MEMORYD_TOKEN"])  # sent as "Authorization: Bearer ..."
    else:
        env = {k: v for k, v in os.environ.items() if k.startswith(("MEMORYD_", "PATH", "HOME"))}
        client = Client(StdioTransport("memoryd", ["serve", "--agent", "my-script"], env=env))
    async with client:
        stored = await client.call_tool("remember", {
            "content": "The billing service reads its Stripe key from STRIPE_API_KEY",
            "tags": ["billing", "config"], "namespace": "examples", "source": "examples/python_client.py",
        })
        print("stored", stored.data["id"], "(duplicate)" if stored.data["duplicate"] else "")

        found = await client.call_tool("recall", {"query": "where does billing get its API key?", "limit": 3})
        for hit in found.data["hits"]:
            print(f"{hit['score']:.3f}  {hit['content']}  [by {hit['provenance']['agent_id']}; {hit['why']}]")

        await client.call_tool("feedback", {"id": stored.data["id"], "verdict": "useful"})

        bad = await client.call_tool("get", {"id": "not-an-id"}, raise_on_error=False)
        print("error example:", bad.content[0].text)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
