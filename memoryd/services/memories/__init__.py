"""Memories: the use cases over the rows, the RAM indexes and recall (App.memories).

    service.py  MemoryService (the facade)   writes.py  MemoryWriter   reads.py  MemoryReader
    indexes.py  MemoryIndexes                seams.py   the protocols  options.py SearchOptions
"""

from .options import SearchOptions
from .reads import namespace_allowed
from .seams import Expander, MemoryListener, ReadPolicy
from .service import SIMILAR_COSINE, MemoryService
from .writes import DELETION_LOG_KEEP, FUTURE_SKEW_S, INSERT_CHUNK, content_hash

__all__ = ["Expander", "MemoryService", "MemoryListener", "ReadPolicy", "SearchOptions", "content_hash",
           "namespace_allowed", "SIMILAR_COSINE", "DELETION_LOG_KEEP", "FUTURE_SKEW_S", "INSERT_CHUNK"]
