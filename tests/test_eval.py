"""`gracedesk eval` on the real dev splits (needs ../shared/data, present in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_eval_fast_tier(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    p = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "eval", "--tier", "fast", "--no-baselines",
         "--data", str(data_dir), "--json", str(out)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "sentiment 3-class" in p.stdout
    report = json.loads(out.read_text())
    fast = report["tiers"]["fast"]
    # quality floors well under the measured figures (docs/models.md): they catch a broken model
    assert fast["tasks"]["sentiment 3-class (goemotions)"] > 0.55
    assert fast["tasks"]["offensive (OLID A, macro-F1)"] > 0.6
    assert fast["tasks"]["requests (4, support)"] > 0.5
    assert fast["banking77_abusive_rate"] < 0.01
    assert fast["calibration"]["ece_mean"] < 0.05
    assert report["dev_rows"]["support"] > 150


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "eval", "--data", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 1
    assert "training data not found" in p.stderr
