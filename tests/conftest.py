from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _data_dir() -> Path | None:
    for cand in (
        os.environ.get("GRACEDESK_DATA_DIR"),
        ROOT.parent / "shared" / "data",
        ROOT / "../shared/data",
    ):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if d is None:
        pytest.skip("../shared/data is not available")
    return d


@pytest.fixture(scope="session")
def fast():
    from gracedesk.analysis.pipeline import get_analyzer

    return get_analyzer("fast")


@pytest.fixture(scope="session")
def accurate():
    from gracedesk.analysis.pipeline import get_analyzer

    return get_analyzer("accurate")
