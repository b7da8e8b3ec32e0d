"""Imported history feeds the live desk: a customer's past complaints, imported from an
archive, are in the context of their next live message (the archetype reads them)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gracedesk.channels.imports.run import Options, run_import
from gracedesk.service.desk import Desk
from gracedesk.store.tables import Customer

from .conftest import NOW, post

# three complaints in three conversations within 90 days of NOW (2026-11-23), one within 30
HISTORY = """conversation,customer,customer_name,customer_email,author,text,created_at
h-1,hist-7,Ana Silva,ana@example.com,customer,"My order arrived late again and damaged. Terrible service, unacceptable.",2026-09-10T10:00:00Z
h-1,hist-7,,,agent,"I'm sorry, a replacement is on its way.",2026-09-10T11:00:00Z
h-2,hist-7,,,customer,"The replacement is broken too. I am sick of your awful service.",2026-10-05T10:00:00Z
h-3,hist-7,,,customer,"I was overcharged this month. Fix this, it is unacceptable.",2026-11-02T10:00:00Z
"""


def test_imported_complaints_shape_the_next_live_message(desk: Desk, tmp_path: Path) -> None:
    archive = tmp_path / "history.csv"
    archive.write_text(HISTORY, encoding="utf-8")
    report = run_import(desk, archive, Options("csv"), clock=lambda: NOW)
    assert (report.imported, report.conversations, report.customers) == (4, 3, 1)
    with desk.store.read() as s:
        ana = s.scalars(select(Customer).where(Customer.external_id == "hist-7")).one()
        assert (ana.name, ana.email) == ("Ana Silva", "ana@example.com")

    live = post(desk, "Still waiting for my refund.", customer="hist-7", name="Ana Silva")
    assert live.analysis == "done" and live.signals is not None
    context = live.signals["context"]
    assert context["archetype"] == "serial_complainer", context
    assert "3 complaints in the last 90 days" in context["archetype_reasons"]
    assert context["repeat_contacts"] == 1  # one imported conversation in the last 30 days

    fresh = post(desk, "Still waiting for my refund.", customer="someone-new")
    assert fresh.signals is not None and fresh.signals["context"]["archetype"] == "none"
