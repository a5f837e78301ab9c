"""`memoryd graph ...` commands (placeholder; filled in by the graph work)."""
