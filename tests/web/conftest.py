"""Fixtures for console tests in real headless Chromium.

- ``browser`` (module): Debian's Chromium driven by Playwright's sync API. Fails, never skips,
  when /usr/bin/chromium is missing.
- ``page`` (function): a fresh browser context and page, closed after the test.
- ``live_server`` (function): ``base_url = live_server(app)`` serves an ASGI app on a free
  loopback port until the test ends (see ``live.serve_in_thread`` to manage it yourself).

Why module scope, not session: while a sync Playwright is open, the main thread reports
Playwright's event loop as running (``asyncio.get_running_loop()`` answers between sync calls), so
``asyncio.run()``, ``anyio.run()`` or ``uvicorn.run()`` in any later test would fail with "cannot
be called from a running event loop" (microsoft/playwright-pytest#167). Module scope releases it
when the module ends; so keep tests that run an event loop in the main thread out of modules that
use ``browser`` or ``page``. Launching Chromium costs about a second per module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

from .live import CHROMIUM, MISSING_CHROMIUM, launch_chromium, serve_in_thread

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Any], str]]:
    with ExitStack() as stack:
        yield lambda app: stack.enter_context(serve_in_thread(app))
