"""Services own transactions and orchestrate stores, the embedder and the index."""
