"""Schemathesis against the OpenAPI document, in process: no 5xx, no undocumented status code.

Every operation the document declares gets schemathesis's coverage phase (the boundary and the
invalid values of each parameter and body field: ids of 2**63, negative offsets, wrong types,
missing and unknown fields) and then ``EXAMPLES`` generated requests, valid and invalid, with a
fixed seed. The app runs in this process on a fresh SQLite store holding a few conversations,
escalations, follow-ups and sanctions, signed in as an admin. A finding is a 5xx answer, a
status code the document does not declare for that operation, a body that does not match the
schema the document declares for its status (issue 9), or an error of the run itself.

About 3,400 requests in under two minutes on 2 cores (docs/desk.md, "The fuzz test").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gracedesk.service import actions, records
from gracedesk.service.desk import CustomerRef, Desk, Incoming
from gracedesk.service.users import create_user
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.store.tables import User
from gracedesk.web.app import create_app

pytestmark = pytest.mark.fuzz

EXAMPLES = 50  # generated requests per operation, after the coverage phase
SEED = 11
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance")
MESSAGES = (
    "You useless idiots charged me twice. Refund me now or I'll post this everywhere!",
    "Hi, could you tell me when my order will ship? Thanks!",
    "I know where your office is. I will find you.",
)


def _seed(desk: Desk, admin: User) -> None:
    """Something for the ids the fuzzer tries first (1, 2, 3, ...) to find."""
    for n, text in enumerate(MESSAGES, 1):
        posted = desk.post_message(
            Incoming(CustomerRef(f"c-{n}", name="Dana", email=f"c{n}@example.com"), text),
            actor=admin,
            now=NOW,
        )
        conv = posted.conversation_id
        actions.escalate(desk, conv, user=admin, reason="needs a lead", now=NOW)
        due = NOW + timedelta(days=n)
        records.add_follow_up(desk, conv, user=admin, promise="call back", due=due, now=NOW)
        records.add_sanction(desk, n, "warn", "insults", user=admin, now=NOW)


@pytest.fixture
def api_schema(tmp_path: Path) -> Iterator[Any]:
    import schemathesis

    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.policy import load_policy

    url = f"sqlite:///{tmp_path / 'gracedesk.db'}"
    store = Store.open(url)
    store.migrate()
    desk = Desk(store, policy=load_policy(), analyzer=get_analyzer("fast"))
    admin, token = create_user(store, "adm", role="admin", now=NOW)
    _seed(desk, admin)
    settings = Settings(home=tmp_path / "home", database_url=url, secret_key="fuzz")
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {token}"},
            "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    try:
        yield schemathesis.openapi.from_asgi(
            "/openapi.json", create_app(settings, desk=desk), config=config
        )
    finally:
        store.close()


def fuzz(schema: Any) -> tuple[set[str], int, list[str]]:
    """Run every phase; returns the operations tested, the requests sent and the findings."""
    from schemathesis.engine import Status, events, from_schema

    operations: set[str] = set()
    requests = 0
    findings: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            operations.add(event.recorder.label)
            requests += len(event.recorder.interactions)
            for checks in event.recorder.checks.values():
                findings += [
                    f"{event.recorder.label}: {c.name}: {c.failure_info}"
                    for c in checks
                    if c.status != Status.SUCCESS
                ]
        elif isinstance(event, events.NonFatalError | events.FatalError):
            findings.append(f"run error: {event}")
    return operations, requests, findings


def test_every_fuzzed_request_gets_a_documented_answer_and_no_5xx(api_schema: Any) -> None:
    paths = api_schema.raw_schema["paths"]
    declared = {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops}
    started = time.monotonic()
    operations, requests, findings = fuzz(api_schema)
    took = time.monotonic() - started
    print(f"fuzz: {len(operations)} operations, {requests} requests, {took:.0f} s")  # with -s
    assert operations == declared, sorted(declared ^ operations)
    assert requests >= len(declared) * 20, requests
    assert not findings, "\n".join(findings[:20])
