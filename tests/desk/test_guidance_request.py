"""The desk passes the message's request to guidance, so a refund is sized and checked."""

from __future__ import annotations

from gracedesk.model.situation import Request
from gracedesk.service.desk import Desk

from .conftest import post


def test_refund_request_reaches_guidance(desk: Desk) -> None:
    r = post(
        desk,
        "My parcel never came. I want a refund of 300 dollars.",
        request=Request("refund", 300.0),
    )
    assert r.guidance is not None
    refund = next(s for s in r.guidance["solutions"] if s["kind"] == "refund")
    assert refund["amount"] == 300 and refund["needs_approval"], refund
