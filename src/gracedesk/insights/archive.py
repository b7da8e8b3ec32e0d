"""Batch analysis of archives: chunks of input lines analysed in worker processes or on a Dask
cluster, written in input order to JSONL or Parquet (docs/archives.md).

Why chunks: a worker pays once for loading the analyzer and then for every message; shipping
lines one by one would cost more in transfer than the analysis. A chunk of ~2,000 lines is
large enough to amortise the hop and small enough that ``2 × workers`` of them in flight keep
memory bounded however long the archive is.

This module knows nothing of the command line: it gets the numbered raw lines, a picklable
*factory* that builds the per-line handler inside each worker (the same handler the
single-process ``gracedesk analyze`` uses, so output is identical), and a sink. ``dask`` and
``pyarrow`` are optional (``pip install 'gracedesk[archives]'``) and imported only when used.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, Protocol

from gracedesk.model import ABUSE, ABUSE_TARGETS, CAUSES, EMOTIONS, EMOTIONS_FINE, REQUESTS

CHUNK = 2000
EXTRA = "pip install 'gracedesk[archives]'"

Lines = list[tuple[int, bytes]]
Handler = Callable[[Lines], list[dict[str, Any]]]
Factory = Callable[[], Handler]


class MissingExtra(RuntimeError):
    """An optional dependency of archive analysis (dask, pyarrow) is not installed."""


@dataclass(frozen=True, slots=True)
class Result:
    """One analysed chunk: its payload (JSONL text or an Arrow record batch) and its counts."""

    payload: Any
    ok: int
    bad: int


class Sink(Protocol):
    fmt: str

    def write(self, result: Result) -> None: ...

    def close(self) -> None: ...


class _Waitable(Protocol):
    def result(self) -> Result: ...


# -- worker side ---------------------------------------------------------------------------
_HANDLERS: dict[str, Handler] = {}


def factory_key(factory: Factory) -> str:
    """A stable name for a factory, so a long-lived (Dask) worker builds each handler once and
    reuses it for every later chunk of the same job."""
    return hashlib.sha1(pickle.dumps(factory)).hexdigest()


def _handler(factory: Factory, key: str) -> Handler:
    h = _HANDLERS.get(key)
    if h is None:
        h = _HANDLERS[key] = factory()
    return h


def init_worker(factory: Factory, key: str) -> None:
    """Process-pool initializer: load the analyzer once per worker, before the first chunk."""
    _handler(factory, key)


def analyze_chunk(lines: Lines, factory: Factory, key: str, fmt: str, batch: int) -> Result:
    """Analyse one chunk in a worker, in sub-batches of ``batch`` lines (the batches the
    single-process command uses), and serialise it there so the parent only writes."""
    handle = _handler(factory, key)
    records: list[dict[str, Any]] = []
    for i in range(0, len(lines), batch):
        records.extend(handle(lines[i : i + batch]))
    bad = sum("error" in r for r in records)
    ok = len(records) - bad
    if fmt == "parquet":
        return Result(to_record_batch(records, [n for n, _ in lines]), ok, bad)
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
    return Result(text, ok, bad)


# -- Parquet -------------------------------------------------------------------------------
def _pyarrow() -> Any:
    try:
        # lazy: optional dependency (parquet archives)
        import pyarrow as pa
    except ImportError as exc:
        raise MissingExtra(f"Parquet output needs pyarrow: {EXTRA}") from exc
    return pa


def parquet_schema() -> Any:
    """A fixed schema, so every chunk (even one of bad lines only) writes the same columns.

    ``id`` is text (a non-string JSON id is written as its JSON); ``error`` is null on analysed
    rows; ``context`` holds the conversation-level object as JSON (its shape varies)."""
    pa = _pyarrow()

    def probs(names: Iterable[str]) -> Any:
        return pa.struct([(n, pa.float64()) for n in names])

    return pa.schema(
        [
            ("line", pa.int64()),
            ("id", pa.string()),
            ("error", pa.struct([("code", pa.string()), ("type", pa.string()),
                                 ("message", pa.string())])),
            ("sentiment", pa.float64()),
            ("sentiment_label", pa.string()),
            ("emotions", probs(EMOTIONS)),
            ("emotions_fine", probs(EMOTIONS_FINE)),
            ("abuse", probs(ABUSE)),
            ("abuse_target", probs(ABUSE_TARGETS)),
            ("complaint", pa.float64()),
            ("causes", probs(CAUSES)),
            ("requests", probs(REQUESTS)),
            ("public_threat", pa.float64()),
            ("legal_threat", pa.float64()),
            ("risk", pa.float64()),
            ("labels", pa.list_(pa.string())),
            ("evidence", pa.list_(pa.struct([("signal", pa.string()), ("start", pa.int64()),
                                             ("end", pa.int64()), ("text", pa.string())]))),
            ("language", pa.string()),
            ("model", pa.string()),
            ("context", pa.string()),
        ]
    )  # fmt: skip


def _id_text(v: Any) -> str | None:
    return v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def to_record_batch(records: list[dict[str, Any]], lines: list[int]) -> Any:
    """The chunk's records as one Arrow record batch of :func:`parquet_schema`."""
    pa = _pyarrow()
    rows = []
    for rec, n in zip(records, lines, strict=True):
        row = dict(rec)
        row["line"] = n
        row["id"] = _id_text(rec.get("id"))
        if "context" in row:
            row["context"] = json.dumps(row["context"], ensure_ascii=False)
        rows.append(row)
    return pa.RecordBatch.from_pylist(rows, schema=parquet_schema())


class ParquetSink:
    """Writes record batches to one Parquet file as they arrive (one row group per chunk)."""

    fmt = "parquet"

    def __init__(self, path: str) -> None:
        # lazy: optional dependency (parquet archives)
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, parquet_schema())

    def write(self, result: Result) -> None:
        self._writer.write_batch(result.payload)

    def close(self) -> None:
        self._writer.close()


class JsonlSink:
    """Writes the chunks' JSON lines to a text stream, flushed per chunk so results stream."""

    fmt = "jsonl"

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh

    def write(self, result: Result) -> None:
        self._fh.write(result.payload)
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()


# -- the driver ----------------------------------------------------------------------------
def chunked(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[Lines]:
    """The input in chunks of ``size`` lines, read lazily (never the whole archive at once)."""
    chunk: Lines = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def in_order(
    chunks: Iterable[Lines], submit: Callable[[Lines], _Waitable], in_flight: int
) -> Iterator[Result]:
    """Results in input order, with at most ``in_flight`` chunks submitted and not yet
    written: the first chunk's result is awaited while the others run, so a slow chunk
    delays the writing but never lets memory grow."""
    pending: deque[_Waitable] = deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


@dataclass(slots=True)
class Counts:
    ok: int = 0
    bad: int = 0


def run_archive(
    lines: Iterable[tuple[int, bytes]],
    sink: Sink,
    factory: Factory,
    *,
    workers: int = 0,
    dask_address: str | None = None,
    chunk_size: int = CHUNK,
    batch: int = 512,
    progress: Callable[[int], None] | None = None,
) -> Counts:
    """Analyse numbered raw lines and write them to ``sink`` in input order.

    ``workers`` > 0: a local process pool of that size; ``dask_address``: a Dask scheduler;
    neither: in this process (still chunked, e.g. for Parquet output). Returns the counts of
    analysed and bad lines; the sink is closed on return.
    """
    key = factory_key(factory)
    fmt = sink.fmt
    counts = Counts()

    def drain(results: Iterator[Result]) -> None:
        for r in results:
            sink.write(r)
            counts.ok += r.ok
            counts.bad += r.bad
            if progress is not None:
                progress(r.ok + r.bad)

    chunks = chunked(lines, chunk_size)
    try:
        if dask_address is not None:
            client_cls = dask_client()
            with client_cls(dask_address, timeout="30s") as client:
                n = max(1, sum(client.nthreads().values()))
                drain(
                    in_order(
                        chunks,
                        lambda c: client.submit(
                            analyze_chunk, c, factory, key, fmt, batch, pure=False
                        ),
                        2 * n,
                    )
                )
        elif workers > 0:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                workers, mp_context=ctx, initializer=init_worker, initargs=(factory, key)
            ) as pool:
                drain(
                    in_order(
                        chunks,
                        lambda c: pool.submit(analyze_chunk, c, factory, key, fmt, batch),
                        2 * workers,
                    )
                )
        else:
            drain(analyze_chunk(c, factory, key, fmt, batch) for c in chunks)
    finally:
        sink.close()
    return counts


def dask_client() -> Any:
    """``dask.distributed.Client`` (imported only here: Dask is the optional ``archives`` extra);
    ``MissingExtra`` with the install hint when it is not installed."""
    try:
        # lazy: optional dependency (Dask clusters)
        from distributed import Client
    except ImportError as exc:
        raise MissingExtra(f"--dask needs dask.distributed: {EXTRA}") from exc
    return Client
