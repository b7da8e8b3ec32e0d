"""``/docs`` works offline: Swagger UI comes from the package, nothing from a CDN (issue 11, 10)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from gracedesk.settings import Settings
from gracedesk.web.app import WEB, create_app


def client(tmp_path: Path) -> TestClient:
    settings = Settings(home=tmp_path, secret_key="test-secret")
    return TestClient(create_app(settings))  # no lifespan: /docs needs no desk


def test_docs_reference_no_external_url_and_serve_every_asset(tmp_path: Path) -> None:
    c = client(tmp_path)
    page = c.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "SwaggerUIBundle" in html
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert len(refs) >= 4, refs  # the script, the stylesheet, the icon, the OpenAPI document
    for ref in refs:
        assert ref.startswith("/") and not ref.startswith("//"), ref
        asset = c.get(ref)
        assert asset.status_code == 200, (ref, asset.status_code)
        assert asset.content, ref
    assert '"validatorUrl": null' in html  # no call to validator.swagger.io
    assert c.get("/redoc").status_code == 404  # ReDoc would load from a CDN: off


def test_the_vendored_swagger_ui_ships_with_its_licence() -> None:
    folder = WEB / "static" / "swagger-ui"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"):
        assert (folder / name).is_file(), name
    assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")
    vendored = (WEB / "static" / "VENDORED.md").read_text(encoding="utf-8")
    assert "swagger-ui-dist@5" in vendored
