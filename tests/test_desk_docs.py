"""docs/desk.md stays in step with the code: every setting, every API route, every CLI command."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from gracedesk.cli.main import cli
from gracedesk.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DESK = (ROOT / "docs/desk.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [
        f"GRACEDESK_{name.upper()}"
        for name in Settings.model_fields
        if f"`GRACEDESK_{name.upper()}`" not in DESK
    ]
    assert not missing, missing


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    from gracedesk.web.app import create_app

    app = create_app(Settings(home=tmp_path, secret_key="x"))
    documented: set[str] = set()
    # "GET /a / POST /a / POST /a/{id}/done": each path in a `METHOD ...` span
    for chunk in re.findall(r"`((?:GET|POST)[^`]*)`", DESK):
        documented |= {
            re.sub(r"\{\w+\}", "{}", p.split("?")[0]) for p in re.findall(r"(/[\w/{}-]+)", chunk)
        }
    served = {re.sub(r"\{\w+\}", "{}", p) for p in app.openapi()["paths"]}
    assert "/api/v1/messages" in served
    missing = sorted(p for p in served if p not in documented)
    assert not missing, missing


def test_desk_commands_have_help() -> None:
    for args in (
        ["serve"],
        ["worker"],
        ["db", "upgrade"],
        ["users", "create"],
        ["users", "token"],
        ["customers", "erase"],
    ):
        r = CliRunner().invoke(cli, [*args, "--help"])
        assert r.exit_code == 0, (args, r.output)
        assert "Usage:" in r.output
