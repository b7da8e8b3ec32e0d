"""`gracedesk eval` on the real dev splits (needs ../shared/data, present in CI)."""

from __future__ import annotations

import json
import os
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
    assert fast["tasks"]["sentiment 3-class (semeval)"] > 0.55
    assert fast["tasks"]["sentiment 3-class (reviews)"] > 0.5
    assert fast["evidence"]["toxic_spans_char_f1"] > 0.5
    assert fast["banking77_negative_rate"] < 0.2


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "eval", "--data", str(tmp_path / "nope")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert p.returncode == 1
    assert "training data not found" in p.stderr


def test_eval_without_public_data_scores_the_bundled_sets(tmp_path: Path) -> None:
    """After a plain install, far from ../shared/data: the shipped hand-labelled sets are
    scored, the report says what was left out and why, and no file is written unasked."""
    env = {k: v for k, v in os.environ.items() if k != "GRACEDESK_DATA_DIR"}
    p = subprocess.run(
        [sys.executable, "-m", "gracedesk.cli.main", "eval", "--tier", "fast"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "complaint (support)" in p.stdout
    assert "public datasets not found" in p.stdout
    assert list(tmp_path.iterdir()) == []  # nothing written without --json


def test_a_missing_baseline_is_named_not_silently_dropped(monkeypatch) -> None:
    from gracedesk.eval import datasets as D
    from gracedesk.eval.runner import _baselines

    for mod in ("vaderSentiment", "vaderSentiment.vaderSentiment", "textblob", "profanity_check"):
        monkeypatch.setitem(sys.modules, mod, None)  # import fails as if not installed
    notes: list[str] = []
    rows = [D.Example("thanks, all good", {"sentiment.neutral": 1}, "support")]
    assert _baselines(rows, notes) == {}
    assert [n.split(" column")[0] for n in notes] == ["VADER", "TextBlob", "alt-profanity-check"]
    assert all("gracedesk[baselines]" in n for n in notes)
