"""API load benchmark: POST /api/v1/messages through a real `gracedesk serve`.

    python bench/bench_api.py [--db sqlite|postgres|both] [--workers N] [--concurrency 32]
                              [--duration 20] [--rate 300] [--json OUT]

For each database: a fresh data directory (SQLite) or a fresh PostgreSQL database
(`gd_bench_<hex>`, dropped at the end), `gracedesk db upgrade`, `gracedesk users create`,
then `gracedesk serve --no-jobs` in a child process. A separate load process opens
--concurrency keep-alive HTTP/1.1 connections and posts realistic difficult-customer
messages, each with a unique Idempotency-Key, in two phases:

- closed loop: every connection sends its next request as soon as the last one is answered,
  for --duration seconds: the maximum throughput and its latencies;
- open loop: --rate requests/s on a fixed schedule spread over the connections; latency is
  measured from each request's *scheduled* send time, so a stalled server is not hidden by
  the client waiting for it (coordinated omission).

Targets (2 cores, client and server on the same machine), judged on the open loop: achieved
rate >= 300 req/s (within 1%: the last answers land after the schedule ends), p99 <= 50 ms,
no error. The script exits 1 when a target is missed. See docs/bench-api.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
TARGET_RPS = 300.0
TARGET_P99_MS = 50.0
TARGET_ASYNC_RPS = 600.0  # acknowledged (Prefer: respond-async), SQLite
TARGET_ASYNC_VS_SYNC = 3.0  # async closed-loop throughput / sync closed-loop throughput
TARGET_DRAIN_RPS = 1000.0  # backlog analysed per second by `worker --drain` (fast tier)
RATE_TOLERANCE = 0.01
N_TEXTS = 200
N_CUSTOMERS = 500
REQUEST_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 120.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


# ---------------------------------------------------------------- messages


def load_texts(n: int = N_TEXTS, seed: int = 7) -> list[str]:
    """~n varied customer messages: the repo's examples plus a seeded sample of the support set."""
    texts: list[str] = []
    for path in (
        ROOT / "examples/messages.jsonl",
        ROOT / "src/gracedesk/eval/data/support_messages.jsonl",
    ):
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                texts += [json.loads(line)["text"] for line in fh if line.strip()]
    if not texts:
        from gracedesk.analysis.samples import SAMPLES

        texts = list(SAMPLES)
    head, rest = texts[:16], texts[16:]
    random.Random(seed).shuffle(rest)
    return (head + rest)[:n]


# ---------------------------------------------------------------- /proc


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, utime+stime ticks, comm) for every process we can read."""
    table: dict[int, tuple[int, int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1 : raw.rfind(")")]
        fields = raw[raw.rfind(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]), comm)
    return table


def _tree(root: int, table: dict[int, tuple[int, int, str]]) -> list[int]:
    pids, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        if pid in table:
            pids.append(pid)
            frontier += [p for p, (ppid, _, _) in table.items() if ppid == pid]
    return pids


def _rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


class ProcMeter:
    """CPU% (100 = one core) and peak RSS of the server's process tree over one phase.

    Also the CPU of every `postgres` process (the database does part of the work) and of the
    whole machine (other load on it shows here).
    """

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._stop = threading.Event()
        self._peak_kb = 0
        self._thread: threading.Thread | None = None

    def _snapshot(self) -> tuple[float, int, int, int, int]:
        table = _proc_table()
        server = sum(table[p][1] for p in _tree(self.server_pid, table))
        pg = sum(ticks for _, ticks, comm in table.values() if comm.startswith("postgres"))
        busy, total = _machine_ticks()
        return time.perf_counter(), server, pg, busy, total

    def _rss_tree_kb(self) -> int:
        return sum(_rss_kb(p) for p in _tree(self.server_pid, _proc_table()))

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self._peak_kb = max(self._peak_kb, self._rss_tree_kb())

    def start(self) -> None:
        self._stop.clear()
        self._peak_kb = self._rss_tree_kb()
        self._start = self._snapshot()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        end = self._snapshot()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        wall = end[0] - self._start[0]
        busy, total = end[3] - self._start[3], end[4] - self._start[4]
        return {
            "server_cpu_pct": 100 * (end[1] - self._start[1]) / CLK_TCK / wall,
            "postgres_cpu_pct": 100 * (end[2] - self._start[2]) / CLK_TCK / wall,
            "machine_cpu_pct": 100 * busy / total if total else 0.0,
            "server_rss_peak_mb": max(self._peak_kb, self._rss_tree_kb()) / 1024,
        }


# ---------------------------------------------------------------- the load client (own process)


class HttpConn:
    """One keep-alive HTTP/1.1 connection with just enough parsing for the API's answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            body = await self.reader.readexactly(int(lower[at + 17 : lower.index(b"\r\n", at + 2)]))
        elif b"\r\ntransfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = await self.reader.read()
            self.close()
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size + 2))
        await self.reader.readuntil(b"\r\n")
        return b"".join(p[:-2] for p in parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Load:
    """Builds requests (unique Idempotency-Key, ~500 customers) and records the answers."""

    def __init__(self, host: str, port: int, token: str, texts: list[str], run_id: str) -> None:
        self.head = (
            f"POST /api/v1/messages HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        ).encode()
        self.texts, self.run_id, self.seq = texts, run_id, 0
        self.rng = random.Random(run_id)
        self.prefer = b""  # b"Prefer: respond-async\r\n" in the asynchronous phases
        self.reset()

    def reset(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.send_lag: list[float] = []
        self.samples: dict[str, str] = {}  # the first answer or exception of each error kind

    def _error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, detail[:500])

    def next_request(self) -> bytes:
        self.seq += 1
        cid = self.rng.randrange(N_CUSTOMERS)
        customer: dict[str, str] = {"external_id": f"c-{cid}"}
        if cid % 3 == 0:
            customer |= {"name": f"Customer {cid}", "email": f"c{cid}@example.test"}
        body = json.dumps(
            {"customer": customer, "channel": "api", "text": self.rng.choice(self.texts)}
        ).encode()
        key = f"bench-{self.run_id}-{self.seq}".encode()
        return b"%s%sIdempotency-Key: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            self.head,
            self.prefer,
            key,
            len(body),
            body,
        )

    async def one(self, conn: HttpConn, since: float) -> float:
        """Send one request; latency counts from `since` (the scheduled time in the open loop)."""
        data = self.next_request()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                status, body = await conn.request(data)
        except (OSError, EOFError, ValueError, TimeoutError, asyncio.LimitOverrunError) as exc:
            self._error(type(exc).__name__, repr(exc))
            conn.close()
            return time.perf_counter()
        done = time.perf_counter()
        self.statuses[status] += 1
        if not 200 <= status < 300:
            self._error(f"HTTP {status}", body.decode(errors="replace"))
        elif b'"message_id"' not in body:
            self._error("2xx without message_id", body.decode(errors="replace"))
        self.latencies.append(done - since)
        return done

    async def closed(self, conn: HttpConn, end: float) -> float:
        last = 0.0
        while (now := time.perf_counter()) < end:
            last = await self.one(conn, now)
        return last

    async def open(self, conn: HttpConn, times: list[float], hard_end: float) -> float:
        last = 0.0
        for n, at in enumerate(times):
            if time.perf_counter() > hard_end:
                self.errors["not sent: schedule overran by 10 s"] += len(times) - n
                break
            if (wait := at - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            self.send_lag.append(time.perf_counter() - at)
            last = await self.one(conn, at)
        return last


async def _client(pipe: Connection, host: str, port: int, token: str, concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    load = Load(host, port, token, load_texts(), secrets.token_hex(4))
    conns = [HttpConn(host, port) for _ in range(concurrency)]
    try:
        while (msg := await loop.run_in_executor(None, pipe.recv)) is not None:
            load.reset()
            load.prefer = b"Prefer: respond-async\r\n" if msg.get("respond_async") else b""
            cpu0, t0 = _self_cpu(), time.perf_counter()
            if msg["mode"] == "closed":
                end = t0 + msg["duration"]
                lasts = await asyncio.gather(*(load.closed(c, end) for c in conns))
                start = t0
            else:
                rate, start = msg["rate"], t0 + 0.05
                n = int(rate * msg["duration"])
                hard_end = start + msg["duration"] + REQUEST_TIMEOUT_S
                lasts = await asyncio.gather(
                    *(
                        load.open(c, [start + k / rate for k in range(i, n, concurrency)], hard_end)
                        for i, c in enumerate(conns)
                    )
                )
            wall = time.perf_counter() - t0
            pipe.send(
                {
                    "latencies": load.latencies,
                    "statuses": dict(load.statuses),
                    "errors": dict(load.errors),
                    "error_samples": load.samples,
                    "send_lag": load.send_lag,
                    "elapsed": max(lasts) - start,
                    "client_cpu_pct": 100 * (_self_cpu() - cpu0) / wall,
                }
            )
    finally:
        for c in conns:
            c.close()
        await asyncio.sleep(0)


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def client_main(pipe: Connection, host: str, port: int, token: str, concurrency: int) -> None:
    """Entry point of the load process: runs phases sent over `pipe` until it receives None."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(pipe, host, port, token, concurrency))


# ---------------------------------------------------------------- results


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def summarize(raw: dict[str, Any], meter: dict[str, float]) -> dict[str, Any]:
    lat = sorted(raw["latencies"])
    lag = sorted(raw["send_lag"])
    ok = sum(n for s, n in raw["statuses"].items() if 200 <= int(s) < 300)
    out: dict[str, Any] = {
        "requests": len(lat) + sum(n for k, n in raw["errors"].items() if not k.startswith("HTTP")),
        "ok": ok,
        "statuses": raw["statuses"],
        "errors": raw["errors"],
        "error_samples": raw["error_samples"],
        "error_count": sum(raw["errors"].values()),
        "rps": ok / raw["elapsed"] if raw["elapsed"] > 0 else 0.0,
        "elapsed_s": raw["elapsed"],
        **{f"p{q}_ms": 1000 * _pct(lat, q / 100) for q in (50, 90, 99)},
        "max_ms": 1000 * lat[-1] if lat else float("nan"),
        "mean_ms": 1000 * sum(lat) / len(lat) if lat else float("nan"),
        "client_cpu_pct": raw["client_cpu_pct"],
        **meter,
    }
    if lag:
        out["send_lag_p99_ms"] = 1000 * _pct(lag, 0.99)
    return out


def check(run: dict[str, Any], rate: float) -> list[str]:
    res, name = run["open"], run["db"]
    missed = []
    if rate < TARGET_RPS:
        missed.append(
            f"{name}: open loop offered {rate:g} req/s (target is judged at {TARGET_RPS:g})"
        )
    if res["rps"] < TARGET_RPS * (1 - RATE_TOLERANCE):
        missed.append(f"{name}: open loop {res['rps']:.1f} req/s (target >= {TARGET_RPS:g})")
    if not res["p99_ms"] <= TARGET_P99_MS:
        missed.append(f"{name}: open loop p99 {res['p99_ms']:.1f} ms (target <= {TARGET_P99_MS:g})")
    for phase in ("warmup", "closed", "open", "async_closed", "async_open"):
        if run[phase]["error_count"]:
            missed.append(f"{name}: {phase}: errors {run[phase]['errors']}")
    ratio = run["async_closed"]["rps"] / max(run["closed"]["rps"], 1e-9)
    if ratio < TARGET_ASYNC_VS_SYNC:
        missed.append(
            f"{name}: async/sync throughput {ratio:.1f}x (target >= {TARGET_ASYNC_VS_SYNC:g}x)"
        )
    res = run["async_open"]
    if name == "sqlite" and res["rps"] < TARGET_ASYNC_RPS * (1 - RATE_TOLERANCE):
        missed.append(
            f"{name}: async open loop {res['rps']:.1f} req/s (target >= {TARGET_ASYNC_RPS:g})"
        )
    if not res["p99_ms"] <= TARGET_P99_MS:
        missed.append(
            f"{name}: async open loop p99 {res['p99_ms']:.1f} ms (target <= {TARGET_P99_MS:g})"
        )
    if run["drain"]["msgs_per_s"] < TARGET_DRAIN_RPS:
        missed.append(
            f"{name}: drain {run['drain']['msgs_per_s']:.0f} msg/s (target >= {TARGET_DRAIN_RPS:g})"
        )
    return missed


def render(runs: list[dict[str, Any]]) -> str:
    cols = [
        ("db", "{}"),
        ("phase", "{}"),
        ("w", "{}"),
        ("ok", "{:d}"),
        ("err", "{:d}"),
        ("req/s", "{:.0f}"),
        ("p50", "{:.1f}"),
        ("p90", "{:.1f}"),
        ("p99", "{:.1f}"),
        ("max", "{:.1f}"),
        ("srv CPU%", "{:.0f}"),
        ("srv RSS MB", "{:.0f}"),
        ("pg CPU%", "{:.0f}"),
        ("client CPU%", "{:.0f}"),
        ("machine CPU%", "{:.0f}"),
    ]
    rows = []
    for run in runs:
        for phase, label in (
            ("closed", "closed (max)"),
            ("open", f"open @{run['rate']:g}/s"),
            ("async_closed", "async closed (max)"),
            ("async_open", f"async open @{run['async_rate']:g}/s"),
        ):
            r = run[phase]
            values = [
                run["db"],
                label,
                run["workers"],
                r["ok"],
                r["error_count"],
                r["rps"],
                r["p50_ms"],
                r["p90_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["server_cpu_pct"],
                r["server_rss_peak_mb"],
                r["postgres_cpu_pct"] if run["db"] == "postgres" else float("nan"),
                r["client_cpu_pct"],
                r["machine_cpu_pct"],
            ]
            rows.append([fmt.format(v) for (_, fmt), v in zip(cols, values, strict=True)])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, (h, _) in enumerate(cols)]
    lines = ["  ".join(h.rjust(w) for (h, _), w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    for run in runs:
        d = run["drain"]
        lines.append(
            f"{run['db']}: drain of the async backlog by `gracedesk worker --drain --processes "
            f"{d.get('processes', 1)}`: {d['messages']} messages in "
            f"{d['seconds']:.1f} s = {d['msgs_per_s']:.0f} msg/s"
        )
    lines.append("latencies in ms; CPU% 100 = one core (machine CPU%: of all cores)")
    return "\n".join(lines)


# ---------------------------------------------------------------- server and databases


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped afterwards; yields its SQLAlchemy URL."""
    import psycopg
    from psycopg import sql

    name = f"gd_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def cli_run(cli: list[str], args: list[str], env: dict[str, str]) -> str:
    res = subprocess.run(cli + args, env=env, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise SystemExit(f"{shlex.join(cli + args)} failed ({res.returncode}):\n{res.stderr}")
    return res.stdout


def _healthy(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        return resp.status == 200 and json.loads(resp.read()).get("status") == "ok"
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def server(
    cli: list[str], port: int, workers: int, env: dict[str, str], log: Path
) -> Iterator[int]:
    """`gracedesk serve --no-jobs` in its own process group; yields its pid once /healthz is ok."""
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [*cli, *args, "--no-jobs"], env=env, stdout=fh, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not _healthy(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"server did not become healthy (rc={proc.returncode}):\n{tail}")
            time.sleep(0.2)
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind by the supervisor


def bench_one(db: str, args: argparse.Namespace) -> dict[str, Any]:
    workers = args.workers or (2 if db == "postgres" else 1)
    cli = shlex.split(args.cli)
    with contextlib.ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gd-bench-")))
        print(f"[{db}] server log: {home / 'server.log'}", flush=True)
        env = dict(os.environ, GRACEDESK_HOME=str(home))
        env.pop("GRACEDESK_DATABASE_URL", None)
        if db == "postgres":
            env["GRACEDESK_DATABASE_URL"] = stack.enter_context(pg_database(args.pg_admin_url))
        cli_run(cli, ["db", "upgrade"], env)
        token = cli_run(cli, ["users", "create", "bench", "--role", "agent"], env).splitlines()[-1]
        port = _free_port()
        pid = stack.enter_context(server(cli, port, workers, env, home / "server.log"))
        ctx = mp.get_context("spawn")
        ours, theirs = ctx.Pipe()
        client = ctx.Process(
            target=client_main, args=(theirs, "127.0.0.1", port, token.strip(), args.concurrency)
        )
        client.start()
        meter = ProcMeter(pid)
        run: dict[str, Any] = {
            "db": db, "workers": workers, "rate": args.rate, "async_rate": args.async_rate,
        }  # fmt: skip
        try:
            phases = [
                ("warmup", {"mode": "closed", "duration": args.warmup}),
                ("closed", {"mode": "closed", "duration": args.duration}),
                ("open", {"mode": "open", "duration": args.duration, "rate": args.rate}),
                ("async_closed", {"mode": "closed", "duration": args.duration, "respond_async": True}),
                (
                    "async_open",
                    {
                        "mode": "open", "duration": args.duration, "rate": args.async_rate,
                        "respond_async": True,
                    },
                ),
            ]  # fmt: skip
            for name, spec in phases:
                print(f"[{db}] {name} ({spec['mode']} loop, {spec['duration']:g} s)", flush=True)
                meter.start()
                ours.send(spec)
                if not ours.poll(spec["duration"] + 3 * REQUEST_TIMEOUT_S):
                    raise SystemExit(f"[{db}] {name}: the load process did not answer")
                raw = ours.recv()
                run[name] = summarize(raw, meter.stop())
            # the backlog the asynchronous phases left: a worker drains it (fast tier)
            procs = str(args.drain_processes)
            print(f"[{db}] drain (gracedesk worker --drain --processes {procs})", flush=True)
            out = cli_run(cli, ["worker", "--drain", "--processes", procs], env)
            out = out.strip().splitlines()[-1]
            n, secs = int(out.split()[1]), float(out.split()[4])
            run["drain"] = {
                "messages": n,
                "seconds": secs,
                "msgs_per_s": n / secs if secs else 0,
                "processes": args.drain_processes,
            }
        finally:
            with contextlib.suppress(OSError):
                ours.send(None)
            client.join(timeout=30)
            if client.is_alive():
                client.kill()
                client.join()
            ours.close()
            theirs.close()
        return run


def _git_commit() -> str | None:
    res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return res.stdout.strip() or None


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    ap.add_argument("--workers", type=int, default=None, help="default: sqlite 1, postgres 2")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of closed loop first")
    ap.add_argument("--rate", type=float, default=TARGET_RPS, help="open-loop req/s in total")
    ap.add_argument(
        "--async-rate",
        type=float,
        default=TARGET_ASYNC_RPS,
        help="open-loop req/s of the Prefer: respond-async phase",
    )
    ap.add_argument(
        "--drain-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of `gracedesk worker --drain` (default: one per core)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="where to CREATE DATABASE")
    ap.add_argument(
        "--cli",
        default=f"{shlex.quote(sys.executable)} -m gracedesk.cli.main",
        help="command that runs gracedesk",
    )
    args = ap.parse_args()
    loadavg = os.getloadavg()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    runs = [bench_one(db, args) for db in dbs]
    missed = [m for run in runs for m in check(run, args.rate)]
    print(render(runs))
    for run in runs:
        lag = run["open"].get("send_lag_p99_ms", 0.0)
        print(
            f"[{run['db']}] open loop: send lag p99 {lag:.1f} ms (sends that started late: "
            "their connection was still waiting for an answer, or the client fell behind)"
        )
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": loadavg,
        },
        "commit": _git_commit(),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "targets": {"open_rps": TARGET_RPS, "open_p99_ms": TARGET_P99_MS},
        "runs": runs,
        "missed": missed,
        "passed": not missed,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for run in runs:
        for phase in ("warmup", "closed", "open"):
            for kind, sample in run[phase]["error_samples"].items():
                print(f"[{run['db']}] {phase}: first {kind}: {sample}")
    for m in missed:
        print(f"MISSED {m}")
    print("targets met" if not missed else "targets missed")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
