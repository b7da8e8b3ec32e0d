"""``gracedesk serve``, ``worker``, ``db`` and ``users``: the desk's entry points.

Settings come from ``GRACEDESK_*`` environment variables (docs/desk.md); the options here set the
same variables, so that every server process uvicorn starts sees them.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from gracedesk.errors import GracedeskError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gracedesk.settings import Settings
    from gracedesk.store import Store


def _settings() -> Settings:
    # lazy: pydantic-settings loads only for desk commands; keeps `gracedesk --help` fast
    from gracedesk.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise click.UsageError(f"bad GRACEDESK_* setting: {exc}") from exc


def _store(settings: Settings) -> Store:
    # lazy: SQLAlchemy loads only for desk commands; keeps `gracedesk --help` fast
    from sqlalchemy.exc import OperationalError

    # lazy: the store (SQLAlchemy tables, engines) loads only for desk commands
    from gracedesk.store import Store

    try:
        store = Store.open(settings.url())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        store.migrate()
    except OperationalError as exc:
        raise click.ClickException(f"cannot open the database {store.url!r}: {exc.orig}") from exc
    return store


def home_option(f: click.decorators.FC) -> click.decorators.FC:
    def put(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value:
            os.environ["GRACEDESK_HOME"] = value

    return click.option(
        "--home",
        metavar="DIR",
        expose_value=False,
        callback=put,
        help="Data directory (sets GRACEDESK_HOME; default ~/.gracedesk).",
    )(f)


def log_options(f: click.decorators.FC) -> click.decorators.FC:
    """``--log-format`` and ``--log-level``: they set ``GRACEDESK_LOG_FORMAT`` / ``_LEVEL``, so
    that every server process uvicorn starts logs alike (``gracedesk.logs.configure``)."""

    def put(name: str) -> Any:
        def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
            if value:
                os.environ[name] = value

        return callback

    f = click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error", "critical"]),
        default=None,
        expose_value=False,
        callback=put("GRACEDESK_LOG_LEVEL"),
        help="Least severe level logged (sets GRACEDESK_LOG_LEVEL; default warning; info adds "
        "one access line per request).",
    )(f)
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default=None,
        expose_value=False,
        callback=put("GRACEDESK_LOG_FORMAT"),
        help="Log lines as text or JSON objects (sets GRACEDESK_LOG_FORMAT; default text).",
    )(f)


def _logging(settings: Settings) -> None:
    # lazy: logging setup is only for serve and worker; keeps `gracedesk --help` fast
    from gracedesk import logs

    logs.configure(settings.log_format, settings.log_level)


def app_factory() -> FastAPI:
    """For uvicorn's ``factory=True``: every server process builds its own app from the env."""
    # lazy: the web stack is heavy; only `serve` needs it
    from gracedesk.jobs.worker import run_forever
    from gracedesk.web.app import create_app

    settings = _settings()
    _logging(settings)  # after uvicorn set up its loggers: ours replace its handlers
    jobs = os.environ.get("GRACEDESK_SERVE_JOBS", "1") == "1"
    # the listening address decides, with the base URL, whether the cookie may be non-Secure
    return create_app(
        settings,
        jobs=run_forever if jobs else None,
        host=os.environ.get("GRACEDESK_SERVE_HOST"),
    )


@click.command()
@home_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--jobs/--no-jobs", default=True, show_default=True, help="Run the job loop inside.")
@click.option("--demo", is_flag=True, help="Seed demo customers, conversations and users first.")
@log_options
def serve(host: str, port: int, workers: int, jobs: bool, demo: bool) -> None:
    """Run the desk: REST API (/api/v1, docs at /docs) and console (/console)."""
    # lazy: uvicorn loads only to serve; keeps `gracedesk --help` fast
    import uvicorn

    settings = _settings()
    _logging(settings)
    log_level = settings.log_level
    store = _store(settings)  # migrations run once here, before any server process starts
    settings.session_key()  # made once here too, so that every server process signs alike
    if demo:
        # lazy: the demo seeds through the whole service layer; only with --demo
        from gracedesk.service.demo import seed

        if host not in ("127.0.0.1", "localhost", "::1"):
            click.echo(
                f"warning: --demo creates users with a known password; {host} is reachable "
                "from other machines",
                err=True,
            )

        try:
            report = seed(settings, store, now=datetime.now(UTC))
        except GracedeskError as exc:
            raise click.ClickException(str(exc)) from exc
        for line in report:
            click.echo(line)
    store.close()
    os.environ["GRACEDESK_SERVE_JOBS"] = "1" if jobs else "0"
    os.environ["GRACEDESK_SERVE_HOST"] = host
    # lazy: the web stack (FastAPI) loads only to serve
    from gracedesk.web.security import cookie_secure

    if cookie_secure(settings, host) and not settings.base_url.startswith("https://"):
        click.echo(
            "note: the console's session cookie is Secure, so sign in through https (a TLS "
            "proxy, GRACEDESK_BASE_URL=https://...); for local development over plain http set "
            "GRACEDESK_COOKIE_SECURE=false",
            err=True,
        )
    click.echo(
        f"gracedesk on http://{host}:{port}/console/  (API docs: /docs; database: {settings.url().split('://')[0]})"
    )
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _serve_reuseport(host, port, workers, log_level)
        return
    uvicorn.run(
        "gracedesk.cli.desk_cmd:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=None,  # gracedesk.logs.configure: masked, text or JSON
        access_log=False,  # our access line names the route template, never the path
    )


def _config(host: str, port: int, log_level: str) -> Any:
    # lazy: uvicorn loads only to serve; keeps `gracedesk --help` fast
    import uvicorn

    return uvicorn.Config(
        "gracedesk.cli.desk_cmd:app_factory",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        log_config=None,
        access_log=False,
    )


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker_main(host: str, port: int, log_level: str) -> None:
    # lazy: uvicorn loads only to serve; keeps `gracedesk --help` fast
    import uvicorn

    server = uvicorn.Server(_config(host, port, log_level))
    server.run(sockets=[_listen(host, port)])


def _serve_reuseport(host: str, port: int, workers: int, log_level: str) -> None:
    """N server processes, each with its own listening socket on the same port (SO_REUSEPORT).

    The kernel spreads new connections over the sockets; with one shared socket (uvicorn's
    ``--workers``) the first process to wake takes a whole burst of keep-alive connections and
    the others stay idle (measured: bench/bench_api.py, docs/bench-api.md).
    """
    # lazy: multiprocessing is only for --workers > 1; keeps `gracedesk --help` fast
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:  # a taken port fails here, early
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    procs = [ctx.Process(target=_worker_main, args=(host, port, log_level)) for _ in range(workers)]
    for p in procs:
        p.start()

    def stop(signum: int, _frame: Any) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()


@click.command()
@home_option
@click.option("--once", is_flag=True, help="Run every job once and exit.")
@click.option(
    "--drain",
    is_flag=True,
    help="Analyse the queued messages (Prefer: respond-async) until none is left, then exit.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="With --drain: analyse with this many processes (one per core is fastest).",
)
@log_options
def worker(once: bool, drain: bool, processes: int) -> None:
    """Run the jobs: queued analysis, follow-up reminders, SLA breaches, notifications,
    re-analysis."""
    # lazy: the jobs and the service layer load only for `worker`
    from gracedesk.channels.transports import transports_for
    from gracedesk.jobs.worker import (
        drain_in_processes,
        drain_queue,
        notifier_for,
        run_forever,
        run_once,
    )
    from gracedesk.service.build import build_desk, settle

    if processes > 1 and not drain:
        raise click.UsageError(
            "--processes goes with --drain; for the job loop, start several `gracedesk worker`"
        )
    os.environ.setdefault("GRACEDESK_LOG_LEVEL", "info")  # one line per round of jobs
    settings = _settings()
    _logging(settings)
    desk = build_desk(settings)
    if drain and processes > 1:
        desk.store.close()  # migrated; the processes open their own
        n, took = drain_in_processes(processes)
    elif drain:
        settle(desk)  # load the models before the clock starts
        t0 = time.perf_counter()
        n = drain_queue(desk)
        took = time.perf_counter() - t0
    if drain:
        click.echo(f"drained {n} messages in {took:.2f} s ({n / took if took else 0:.0f} msg/s)")
        return
    if once:
        with notifier_for(settings) as notifier:
            done = run_once(
                desk,
                notifier,
                now=datetime.now(UTC),
                transports=transports_for(settings, desk.store),
                mail_secret=settings.session_key(),
            )
        click.echo(" ".join(f"{k}={v}" for k, v in done.items()))
        sys.exit(1 if any(v < 0 for v in done.values()) else 0)
    stop = threading.Event()
    settle(desk)  # a long-running process: models loaded, kept out of the cyclic GC's walks
    try:
        run_forever(desk, settings, stop=stop)
    except KeyboardInterrupt:
        stop.set()


@click.group()
def db() -> None:
    """The database: migrations."""


@db.command("upgrade")
@home_option
def db_upgrade() -> None:
    """Apply the migrations (the server also does this when it starts)."""
    settings = _settings()
    store = _store(settings)
    # lazy: alembic loads only for `db` commands
    from gracedesk.store.migrate import current

    click.echo(f"database at revision {current(store.engines)} ({settings.url().split('://')[0]})")


@click.group()
def users() -> None:
    """People who sign in: agents, supervisors, admins."""


@users.command("create")
@home_option
@click.argument("name")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--display-name", default=None)
@click.option("--email", default=None)
@click.option(
    "--password",
    default=None,
    help="Console password (or GRACEDESK_PASSWORD); without one the user has only the API token.",
)
def users_create(
    name: str, role: str, display_name: str | None, email: str | None, password: str | None
) -> None:
    """Create a user and print its API token (shown once; the last line of the output)."""
    # lazy: the service layer (argon2, SQLAlchemy) loads only for `users`
    from gracedesk.service.users import create_user

    password = password or os.environ.get("GRACEDESK_PASSWORD")
    store = _store(_settings())
    try:
        user, token = create_user(
            store,
            name,
            role=role,
            now=datetime.now(UTC),
            password=password,
            display_name=display_name,
            email=email,
        )
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"created {user.role} {user.name!r}; API token (keep it, it is not shown again):", err=True
    )
    click.echo(token)


@users.command("token")
@home_option
@click.argument("name")
def users_token(name: str) -> None:
    """Issue a new API token for NAME (the old one stops working)."""
    # lazy: the service layer (argon2, SQLAlchemy) loads only for `users`
    from gracedesk.service.users import rotate_token

    try:
        token = rotate_token(_store(_settings()), name, now=datetime.now(UTC))
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(token)


@click.group()
def customers() -> None:
    """Customers: erasure (the right to be forgotten)."""


def _operator() -> str:
    """Who runs the command, for the audit trail (the desk has no sign-in here)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


@customers.command("erase")
@home_option
@click.argument("customer_id", type=click.IntRange(1, 2**63 - 1))
@click.option("--yes", is_flag=True, help="Erase without asking for confirmation.")
def customers_erase(customer_id: int, yes: bool) -> None:
    """Erase customer CUSTOMER_ID's personal data and the text of their conversations.

    Irreversible: contact data, external id, message text, notes, promises and hand-over packets
    are masked everywhere and unsent notifications dropped; the conversations stay (without
    text) in every figure, and the audit log records the erasure and who ran it.
    """
    # lazy: the service layer and the store load only for this command
    from gracedesk.service.erasure import erase
    from gracedesk.service.training import forget_customer
    from gracedesk.store.customers import erasure_preview

    settings = _settings()
    store = _store(settings)
    try:
        with store.read_core() as conn:
            found = erasure_preview(conn, customer_id)
        if found is None:
            raise click.ClickException(f"customer {customer_id} does not exist")
        label, convs = found
        if not yes:
            click.confirm(
                f"Erase customer {customer_id} ({label}, {convs} conversation(s))? "
                "This cannot be undone",
                abort=True,
                err=True,
            )
        done = erase(store, customer_id, actor=_operator(), now=datetime.now(UTC))
        scenario_files = forget_customer(store, settings.home, customer_id)
    except GracedeskError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        store.close()
    click.echo(
        f"erased customer {customer_id}: {done['conversations']} conversation(s), "
        f"{done['messages']} message(s), {done['notifications_dropped']} unsent "
        f"notification(s) dropped, {scenario_files} practice scenario file(s) deleted"
    )
