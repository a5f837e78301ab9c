"""GDPR erasure building blocks: subject matching, planning, forensic scan, exports,
receipts and verification. The service that runs them is memoryd.services.erasure."""

from .hooks import ErasureHook
from .models import GROUNDS, ErasurePlan, ErasureReceipt, ErasureRequest, PlanItem, ReceiptVerification

__all__ = ["ErasureHook", "ErasureRequest", "ErasurePlan", "PlanItem", "ErasureReceipt", "ReceiptVerification",
           "GROUNDS"]
