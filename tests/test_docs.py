"""The docs stay in step with the code: commands, error codes, the README example."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

import gracedesk
from gracedesk.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    assert "pip install . && .venv/bin/gracedesk serve --demo" in blocks[0]
    assert "gracedesk analyze examples/messages.jsonl" in README
    assert "pytest" in blocks[1]
    assert "pytest" in (ROOT / ".ci/run").read_text()


def test_readme_commands_exist() -> None:
    listed = set(re.findall(r"^\| `gracedesk (\w+)", README, re.M))
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in listed:
        assert f"  {name} " in result.output


def test_readme_example_is_real_output() -> None:
    example = re.search(r"```json\n(\{\"id\": \"m3\".*?)\n```", README, re.S)
    assert example is not None
    text = "You people are useless idiots. I want to speak to your manager right now."
    shown = re.search(r'"labels": (\[.*?\])', example.group(1))
    assert shown is not None
    assert json.loads(shown.group(1)) == list(gracedesk.analyze(text).labels)


def test_error_codes_are_documented() -> None:
    from gracedesk import errors

    docs = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.GracedeskError)
    }
    undocumented = sorted(c for c in codes if c not in docs and not c.endswith("00"))
    assert not undocumented, undocumented
