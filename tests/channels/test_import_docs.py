"""docs/import.md stays true: every command on the page runs (in order, in temporary homes) and
exits as the page says, the output shown is the real output, and every option is listed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gracedesk.cli.import_cmd import CRASH_AFTER_ENV, CRASH_EXIT, import_cmd
from gracedesk.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")


def commands() -> list[tuple[dict[str, str], list[str], int]]:
    """``(environment, gracedesk arguments, expected exit code)`` of each command shown."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", PAGE, re.S):
        for line in block.splitlines():
            if "gracedesk import" not in line:
                continue
            code, comment = line.split("#", 1) if "#" in line else (line, "")
            words = shlex.split(code)
            env = {}
            while "=" in words[0]:
                key, value = words.pop(0).split("=", 1)
                env[key] = value
            assert words[:2] == ["gracedesk", "import"], line
            exits = re.search(r"exits (\d+)", comment)
            expected = CRASH_EXIT if CRASH_AFTER_ENV in env else 0
            out.append((env, words[1:], int(exits.group(1)) if exits else expected))
    return out


def test_every_command_on_the_page_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GRACEDESK_HOME", str(tmp_path / "unused"))  # restored after the test
    monkeypatch.delenv("GRACEDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv(CRASH_AFTER_ENV, raising=False)
    homes: dict[str, str] = {}
    outputs: list[str] = []
    shown = commands()
    assert len(shown) >= 8
    for env, args, expected in shown:
        i = args.index("--home")
        args[i + 1] = homes.setdefault(args[i + 1], str(tmp_path / f"home{len(homes)}"))
        if env:  # the crash hook ends the process: run it in one
            done = subprocess.run(
                [sys.executable, "-m", "gracedesk.cli.main", *args],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            code, output = done.returncode, done.stdout + done.stderr
        else:
            r = CliRunner().invoke(cli, args)
            code, output = r.exit_code, r.output
        assert code == expected, (args, output)
        outputs.append(output)
    first = re.search(r"The first command prints:\n\n```text\n(.*?)```", PAGE, re.S)
    assert first is not None
    assert outputs[0] == first.group(1)
    resumed = outputs[[CRASH_AFTER_ENV in env for env, _, _ in shown].index(True) + 1]
    assert "resumed at message 2 of 7 (an earlier run stopped there)" in resumed
    assert "imported: 7 messages" in resumed


def test_every_option_is_in_the_table() -> None:
    table = set(re.findall(r"^\| `(--[a-z-]+)", PAGE, re.M))
    options = {opt for p in import_cmd.params for opt in p.opts if opt.startswith("--")}
    assert options - {"--help"} <= table | {"--no-analyse"}, options - table
    assert "`--analyse/--no-analyse`" in PAGE


def test_the_bench_command_takes_the_options_shown() -> None:
    line = next(ln for ln in PAGE.splitlines() if ln.startswith("python bench/bench_import.py"))
    flags = [w for w in shlex.split(line) if w.startswith("--")]
    helped = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_import.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for flag in flags:
        assert flag in helped, flag
    assert "BENCH_FIGURES" not in PAGE  # the measured figures are filled in
