"""Connection handling and the migration runner."""

from .connection import connect, transaction
from .migrate import applied_versions, available_migrations, migrate

__all__ = ["connect", "transaction", "migrate", "applied_versions", "available_migrations"]
