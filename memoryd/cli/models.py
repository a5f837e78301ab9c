"""`memoryd models ...` commands (placeholder; filled in by the models work)."""
