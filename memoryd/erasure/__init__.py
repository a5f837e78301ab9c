"""GDPR erasure building blocks, pure (no database, tests/core/test_architecture.py): subject
matching, the plan's judgement, receipts, the forensic byte scan and export file formats.
The use cases that run them against the store are memoryd.services.erasure."""

from .hooks import ErasureHook
from .models import GROUNDS, ErasurePlan, ErasureReceipt, ErasureRequest, PlanItem, ReceiptVerification

__all__ = ["ErasureHook", "ErasureRequest", "ErasurePlan", "PlanItem", "ErasureReceipt", "ReceiptVerification",
           "GROUNDS"]
