"""GDPR erasure orchestration: the use cases over the store, the RAM indexes and the files.

    service.py   ErasureService: plan, execute, resume, receipts, verify, exports (App.erasure)
    planner.py   ErasurePlanner: the dry run's look-ups in the store and the vector index
    bounds.py    bound_plan: what an agent may erase (authority)
    deletion.py  ErasureDeletion: step 2, the one delete transaction
    cleanup.py   ErasureCleanup: step 4, FTS clean-up, exports rewritten, VACUUM, WAL truncate
    verifier.py  ErasureVerifier: step 5, owned files, needles, forensic and index checks
    audit.py     ErasureAuditLog: step 6, the sealed receipt chain; re-verification
    retry.py     ErasureRetries: incomplete requests retried in-process (stash.py: their RAM state)
    exports.py   ErasureExports: registered files with memory content; subject exports

The pure parts (subject matching, the plan's judgement, receipts, byte scans, export file
formats) are memoryd.erasure; the SQL is memoryd.store.erasure and store.erasure_fields.
"""

from .service import RETRY_DELAYS_S, STEPS, VACUUM_POLICIES, ErasureService

__all__ = ["ErasureService", "STEPS", "VACUUM_POLICIES", "RETRY_DELAYS_S"]
