"""Pure search machinery: the in-RAM vector index and rank fusion."""
