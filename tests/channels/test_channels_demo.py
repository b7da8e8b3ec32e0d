"""The channels demo in docs/channels.md runs as documented and shows every path."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_channels_demo_shows_every_path() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "channels_demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "first: imported 9, skipped 0, rejected 5" in out
    assert "again: imported 0, skipped 9, rejected 5" in out
    assert "POST /hooks/acme-chatwoot -> 200" in out
    assert "forged signature -> 401" in out
    assert "Chatwoot API <- POST /api/v1/accounts/78869/conversations/48/messages" in out
    assert "In-Reply-To: <k1@mail.example.com>" in out
    assert "-> /chat-widget: 'Yes, it left this morning.'" in out
    assert "analysis: held; in the agents' queue: False" in out
    assert "released by sam: analysis done" in out
    demo_home = Path(out.rsplit("The demo desk is in ", 1)[1].split(" ", 1)[0])
    assert demo_home.name.startswith("gracedesk-demo-")
    shutil.rmtree(demo_home)
