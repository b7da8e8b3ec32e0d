"""``gracedesk analyze`` on archives: worker processes, a local Dask cluster and Parquet give the
single-process output (same records, same order, bad lines included), as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "gracedesk.cli.main", "analyze"]

LINES = [
    *(ln for ln in (ROOT / "examples/messages.jsonl").read_bytes().splitlines() if ln.strip()),
    b'{"id": "e1", "text": ""}',
    b'{"id": "e2", "text": "unterminated',
    b"plain text line: where is my parcel?",
    b'{"id": 7, "text": "You idiots lost my parcel again, I want a refund now"}',
    b'{"id": "e3"}',
    b'{"id": "ok9", "text": "bad bytes \xff\xfe here, refund please"}',
]


def run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CMD, *args], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A small archive with bad lines mixed in, and its single-process output."""
    path = tmp_path_factory.mktemp("archive") / "in.jsonl"
    path.write_bytes(b"\n".join(LINES * 2) + b"\n")
    p = run([str(path)])
    assert p.returncode == 0, p.stderr
    assert b"line(s) with errors" in p.stderr
    return path, p.stdout


def test_workers_output_is_the_single_process_output(archive: tuple[Path, bytes]) -> None:
    path, expected = archive
    p = run([str(path), "--workers", "2", "--chunk-size", "5", "--batch-size", "3"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected
    assert b"line(s) with errors" in p.stderr


def test_parquet_keeps_ids_order_and_errors(archive: tuple[Path, bytes], tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import json

    path, expected = archive
    out = tmp_path / "out.parquet"
    p = run(
        [str(path), "--format", "parquet", "-o", str(out), "--workers", "2", "--chunk-size", "4"]
    )
    assert p.returncode == 0, p.stderr
    rows = pq.read_table(out).to_pylist()
    want = [json.loads(x) for x in expected.decode().splitlines()]
    assert len(rows) == len(want)
    assert [r["line"] for r in rows] == list(range(1, len(want) + 1))
    for r, w in zip(rows, want, strict=True):
        wid = w.get("id")
        assert r["id"] == (wid if wid is None or isinstance(wid, str) else json.dumps(wid))
        if "error" in w:
            assert r["error"] == w["error"] and r["sentiment"] is None
        else:
            assert r["error"] is None
            assert r["risk"] == w["risk"] and r["labels"] == w["labels"]
            assert r["emotions"] == w["emotions"]


def test_parquet_without_output_file_is_a_usage_error(archive: tuple[Path, bytes]) -> None:
    p = run([str(archive[0]), "--format", "parquet"])
    assert p.returncode == 2
    assert b"--format parquet needs -o FILE" in p.stderr


def test_workers_and_dask_are_exclusive(archive: tuple[Path, bytes]) -> None:
    p = run([str(archive[0]), "--workers", "2", "--dask", "tcp://127.0.0.1:1"])
    assert p.returncode == 2 and b"exclusive" in p.stderr


def test_unusable_input_exits_one_as_before(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": ""}\n{broken\n')
    p = run([str(path), "--workers", "2"])
    assert p.returncode == 1
    assert len(p.stdout.splitlines()) == 2
    assert b"no usable message" in p.stderr


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def test_dask_output_is_the_single_process_output(
    archive: tuple[Path, bytes], dask_scheduler: str
) -> None:
    path, expected = archive
    p = run([str(path), "--dask", dask_scheduler, "--chunk-size", "6"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected
