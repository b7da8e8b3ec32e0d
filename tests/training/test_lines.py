"""The line bank: shipped real customer turns are masked and small; templates validate."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from importlib import resources
from pathlib import Path

import pytest

from gracedesk.training.lines import EVENTS, pick, real_lines, templates
from gracedesk.training.scenario import BUCKETS


def test_shipped_real_lines_are_masked_small_and_tagged() -> None:
    path = resources.files("gracedesk.training").joinpath("lines.jsonl")
    raw = path.read_text("utf-8")
    assert len(raw.encode()) < 300_000
    rows = [json.loads(x) for x in raw.splitlines() if x.strip()]
    assert len(rows) >= 20 and len(real_lines()) == len(rows)
    for r in rows:
        assert r["bucket"] in BUCKETS and r["id"].startswith("ibm-")
        text = r["text"]
        assert "@" not in text and not re.search(r"https?://|www\.", text)
        assert not re.search(r"\d", text)  # no order, phone or account numbers
    assert {r["bucket"] for r in rows} >= {"escalating", "accepting"}


def test_templates_cover_every_bucket_and_event_but_the_opening() -> None:
    seen = {t.when for t in templates()}
    assert (set(BUCKETS) - {"opening"}) | set(EVENTS) == seen  # the opening is the scenario's


def test_pick_never_repeats_while_lines_remain_and_fills_facts(parcel) -> None:
    rng = random.Random(0)
    said: list[str] = []
    for _ in range(6):
        said.append(pick(parcel, "escalating", rng, said=said))
    assert len(set(said)) == 6
    assert all("{" not in s for s in said)


def test_pick_prefers_the_line_answering_the_bad_move(router) -> None:
    rng = random.Random(1)
    line = pick(router, "escalating", rng, triggers=["blame"])
    blame = {t.text for t in templates() if t.trigger == "blame"}
    assert line in blame


def test_the_shipped_file_is_what_the_build_script_makes(data_dir) -> None:
    """train/build_customer_lines.py is reproducible: same data, same shipped file."""
    source = data_dir / "ibm_twitter_customer_care"
    if not source.is_dir():
        pytest.skip("the IBM customer-care data is not available")
    path = Path(__file__).resolve().parents[2] / "train" / "build_customer_lines.py"
    spec = importlib.util.spec_from_file_location("build_customer_lines", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = resources.files("gracedesk.training").joinpath("lines.jsonl").read_text("utf-8")
    assert module.build(source) == [json.loads(x) for x in shipped.splitlines() if x.strip()]
