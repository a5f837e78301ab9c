"""Connection handling and the migration runner."""

from .connection import checkpoint_truncate, connect, read_snapshot, data_version, optimize, pragma, quick_check, shrink_memory, transaction, writable
from .migrate import applied_versions, available_migrations, migrate

__all__ = ["checkpoint_truncate", "connect", "read_snapshot", "transaction", "pragma", "data_version", "quick_check", "writable", "shrink_memory", "optimize", "migrate", "applied_versions", "available_migrations"]
