"""Fixtures for the training tests: the two test scenarios of tests/training/data, two scripts,
and the desk's fixtures (a real store on SQLite and PostgreSQL) re-exported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk.conftest import (  # noqa: F401  (the desk's fixtures, for the store-backed tests)
    NOW,
    analyzer,
    db_url,
    desk,
    make_user,
    policy,
    post,
    postgres_url,
    settings,
    store,
)
from gracedesk.training.scenario import Scenario, parse_scenario

DATA = Path(__file__).parent / "data"

# An empathetic trainee on the hard aggressive test scenario: acknowledge, own, solve, time.
EMPATHETIC = [
    "I'm so sorry, I can hear how upsetting this is with your anniversary on Friday. I've "
    "checked parcel P-7731: it was lost at the depot, and that's on us.",
    "I will send an express replacement today so it arrives on Thursday, or I can refund the "
    "54.00 EUR right now. Which would you prefer?",
    "I've booked the express replacement and I'll email you the tracking number by 5pm today.",
    "Thank you for your patience. I'll check the tracking myself on Thursday morning and "
    "message you.",
]
# A dismissive trainee on the same scenario: calm down, policy, blame, vague promises.
DISMISSIVE = [
    "Please calm down. Delivery dates are estimates, that is our policy.",
    "You should have chosen express shipping. It's the courier's fault, not ours.",
    "As I already explained, it will arrive soon. We'll look into it.",
    "Read the terms and conditions.",
]


def load(name: str) -> Scenario:
    path = DATA / f"{name}.toml"
    return parse_scenario(path.read_text("utf-8"), str(path), stem=name)


@pytest.fixture(scope="session")
def parcel() -> Scenario:
    """Hard, aggressive, abusive when angry; refund limit 60 EUR, no guaranteed dates."""
    return load("test-parcel-aggressive")


@pytest.fixture(scope="session")
def router() -> Scenario:
    """Easy, vague: needs a clarifying question before a fix counts."""
    return load("test-router-vague")
