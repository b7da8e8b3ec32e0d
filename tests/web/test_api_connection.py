"""A refused request keeps its keep-alive connection (the 500s it replaced closed it)."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from gracedesk.service.desk import Desk
from gracedesk.service.users import create_user
from gracedesk.settings import Settings
from gracedesk.store import Store
from gracedesk.web.app import create_app

from .live import serve_in_thread


def test_a_422_keeps_the_connection_open(tmp_path: Path) -> None:
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.policy import load_policy

    url = f"sqlite:///{tmp_path / 'gracedesk.db'}"
    store = Store.open(url)
    store.migrate()
    desk = Desk(store, policy=load_policy(), analyzer=get_analyzer("fast"))
    _, token = create_user(store, "adm", role="admin", now=datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    settings = Settings(home=tmp_path / "home", database_url=url, secret_key="x")
    with serve_in_thread(create_app(settings, desk=desk)) as base:
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        try:
            for path, status in (
                (f"/api/v1/conversations/{2**64}", 422),
                (f"/api/v1/conversations?offset={2**64}", 422),
                (f"/api/v1/audit?customer_id={2**64}", 422),
                ("/api/v1/me", 200),
            ):
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                r.read()
                assert (r.status, r.will_close) == (status, False), path
        finally:
            conn.close()
            store.close()
