"""One helpdesk API as the adapters call it: base URL, auth headers, and errors as the outbox
needs them.

A server that is away, a timeout, a 5xx, a 408 or a 429 is worth another try later
(``DeliveryError(retryable=True)``: the worker backs off); any other 4xx will fail the same way
every time (``retryable=False``: the delivery fails at once with the reason). Error messages
name the method, path and status only: never the token, never the request or response body
(they carry customer text).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from gracedesk.errors import DeliveryError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
RETRYABLE = frozenset({408, 425, 429})


def seg(value: str) -> str:
    """An id as one path segment (ids are checked on the way in; this keeps it so)."""
    return quote(value, safe="")


class Api:
    def __init__(self, http: httpx.Client, base_url: str, headers: dict[str, str]) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", **headers}

    def call(
        self, method: str, path: str, body: Any = None, *, form: dict[str, str] | None = None
    ) -> httpx.Response:
        """The response of a successful call; a failed one raises ``DeliveryError``.

        ``body`` goes as JSON, ``form`` as ``application/x-www-form-urlencoded``."""
        where = f"{method} {path}"
        try:
            r = self.http.request(
                method,
                self.base_url + path,
                json=body,
                data=form,
                headers=self.headers,
                timeout=TIMEOUT,
            )
        except httpx.TimeoutException:
            raise DeliveryError(f"{where}: timed out") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}") from None
        if r.is_success:
            return r
        status = f"{where}: HTTP {r.status_code} {r.reason_phrase}"
        if r.status_code >= 500 or r.status_code in RETRYABLE:
            raise DeliveryError(status)
        raise DeliveryError(status, retryable=False)

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of a call (None when it has no JSON body)."""
        r = self.call(method, path, body)
        try:
            return r.json() if r.content else None
        except ValueError:
            return None


def remote_id(doc: Any, key: str = "id") -> str | None:
    """The id an API answered with (``{"id": 123}``), as text, or None."""
    if isinstance(doc, dict):
        got = doc.get(key)
        if isinstance(got, int | str) and not isinstance(got, bool) and str(got):
            return str(got)
    return None
