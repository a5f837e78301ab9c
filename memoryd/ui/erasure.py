"""Erasure: a subject request with its dry run (what would be erased and why, per field),
confirm, the receipt, its verification, and the list of receipts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from ..erasure.models import GROUNDS, ErasureRequest
from ..errors import NotFoundError, ValidationError
from .forms import split_list
from .web import UI

__all__ = ["routes"]

FIELDS = ("subjects", "memory_ids", "agents", "namespaces", "exclude_ids")


def _request(form) -> ErasureRequest:
    values = {f: split_list(form.get(f), limit=500) for f in FIELDS}
    if not any(values[f] for f in FIELDS[:4]):
        raise ValidationError("name at least one subject, memory id, agent or namespace")
    ground = (form.get("ground") or "").strip() or None
    return ErasureRequest(**values, ground=ground, field_hits=form.get("field_hits") or "erase")


def _expect(plan) -> str:
    """What the dry run showed: confirming erases exactly that or nothing."""
    return ",".join(plan.memory_ids) + "|" + ",".join(i.memory_id for i in plan.redactions)


def routes(ui: UI) -> list[Route]:
    app = ui.app

    @ui.page()
    async def start(request: Request):
        receipts = await ui.call(app.erasure.receipts)
        return ui.render(request, "erasure.html", grounds=GROUNDS, receipts=list(reversed(receipts)))

    @ui.page(post=True)
    async def plan(request: Request):
        form = await request.form()
        req = _request(form)
        p = await ui.call(app.erasure.plan, req)
        keep = {f: form.get(f) or "" for f in FIELDS}
        return ui.render(request, "plan.html", plan=p, keep=keep, ground=req.ground or "",
                         field_hits=req.field_hits, expect=_expect(p))

    @ui.page(post=True)
    async def execute(request: Request):
        form = await request.form()
        if form.get("confirm") != "yes":
            raise ValidationError("tick the confirmation box to erase (nothing was erased)")
        req = _request(form)

        def run():
            svc = app.erasure
            p = svc.plan(req)
            if _expect(p) != (form.get("expect") or ""):
                raise ValidationError("the store changed since the dry run: nothing was erased; run the dry run again")
            receipt = svc.execute(p, confirm=True)
            if receipt.body.get("status") == "incomplete" and receipt.body.get("hooks", {}).get("ledger", {}).get("pending"):
                app.models.wait_for_edits()  # the model edit seals the receipt once verified
                try:
                    receipt = svc.receipt(receipt.id)
                except NotFoundError:
                    pass
            return receipt

        receipt = await ui.call(run)
        return ui.redirect(f"/erasure/receipt/{receipt.id}")

    @ui.page()
    async def receipt(request: Request):
        r = await ui.call(app.erasure.receipt, request.path_params["id"])
        return ui.render(request, "receipt.html", r=r, text=r.to_text(), v=None)

    @ui.page(post=True)
    async def verify(request: Request):  # a POST: the subject checked stays out of URLs and history
        rid = request.path_params["id"]
        subject = ((await request.form()).get("subject") or "").strip() or None
        r = await ui.call(app.erasure.receipt, rid)
        v = await ui.call(app.erasure.verify, rid, scan=True, subject=subject)
        return ui.render(request, "receipt.html", r=r, text=r.to_text(), v=v)

    return [
        Route("/erasure", start),
        Route("/erasure/plan", plan, methods=["POST"]),
        Route("/erasure/execute", execute, methods=["POST"]),
        Route("/erasure/receipt/{id}", receipt),
        Route("/erasure/receipt/{id}/verify", verify, methods=["POST"]),
    ]
