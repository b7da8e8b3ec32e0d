"""Models load and run with the network off (no download at run time, ever)."""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import socket
def refuse(*a, **k):
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import gracedesk
for tier in ("fast", "accurate"):
    s = gracedesk.analyze("I want a refund, you idiots", tier=tier)
    assert "wants_refund" in s.labels, (tier, s.labels)
print("ok")
"""


def test_both_tiers_work_without_network() -> None:
    p = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300, check=False
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"
