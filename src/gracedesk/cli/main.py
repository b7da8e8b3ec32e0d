"""``gracedesk`` command line: analyze, eval, bench; policy, coach, advise; serve, worker, db, users."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gracedesk import __version__
from gracedesk.cli.jsonl import output_option
from gracedesk.errors import GracedeskError

BATCH = 512


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gracedesk")
def cli() -> None:
    """gracedesk: handle difficult customers with grace."""


def _analyze_handler(
    tier: str, context: Any
) -> Callable[[list[tuple[int, bytes]]], list[dict[str, Any]]]:
    """The per-batch handler of ``gracedesk analyze``: raw numbered lines in, one record each.

    Module-level (not a closure of the command) so that archive workers, local processes or
    Dask workers, can build the very same handler from ``partial(_analyze_handler, ...)``:
    whatever runs the chunks, the output is the single-process output."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.cli.jsonl import error_record, parse_line

    analyzer = get_analyzer(tier)

    def handle(lines: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        items = [parse_line(raw, n) for n, raw in lines]
        plain = [it for it in items if it.error is None and it.context is None and context is None]
        batch = analyzer.analyze_many([str(it.text) for it in plain], ids=[it.id for it in plain])
        done = {id(it): sig for it, sig in zip(plain, batch, strict=True)}
        out: list[dict[str, Any]] = []
        for it in items:
            if it.error is None:
                try:
                    sig = done.get(id(it)) or analyzer.analyze(
                        str(it.text),
                        context=it.context if it.context is not None else context,
                        id=it.id,
                    )
                    out.append(sig.to_dict())
                    continue
                except GracedeskError as exc:
                    it.error = exc
            out.append(error_record(it))
        return out

    return handle


@cli.command()
@click.argument(
    "source", default="-", type=click.Path(exists=True, allow_dash=True, dir_okay=False)
)
@click.option("--tier", type=click.Choice(["fast", "accurate"]), default="fast", show_default=True)
@click.option(
    "--context",
    "context_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON file with context for every message (earlier messages, customer history).",
)
@output_option()
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=BATCH, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    default=None,
    help="Analyse in N local worker processes (archives; docs/archives.md).",
)
@click.option(
    "--dask",
    "dask_address",
    metavar="ADDRESS",
    default=None,
    help="Analyse on a Dask cluster, e.g. tcp://10.0.0.5:8786 (needs gracedesk[archives]).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "parquet"]),
    default="jsonl",
    show_default=True,
    help="Output format; parquet needs -o FILE and pyarrow.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 1_000_000),
    default=2000,
    show_default=True,
    help="Lines per chunk sent to a worker (with --workers, --dask or parquet).",
)
def analyze(
    source: str,
    tier: str,
    context_file: str | None,
    output: str,
    batch_size: int,
    workers: int | None,
    dask_address: str | None,
    fmt: str,
    chunk_size: int,
) -> None:
    """Analyse messages: JSONL {"id","text"} (or plain text lines) in, one JSON line out each."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.jsonl import run_stream

    if workers is not None and dask_address is not None:
        raise click.UsageError("--workers and --dask are exclusive: choose one")
    if fmt == "parquet" and output == "-":
        raise click.UsageError("--format parquet needs -o FILE (Parquet cannot stream to stdout)")
    context: Any = None
    if context_file:
        try:
            context = json.loads(Path(context_file).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"--context {context_file}: not valid JSON ({exc})") from exc
        if not isinstance(context, dict):
            raise click.UsageError(f"--context {context_file}: expected a JSON object")
    if workers is not None or dask_address is not None or fmt == "parquet":
        _analyze_archive(
            source, output, tier, context, batch_size, workers, dask_address, fmt, chunk_size
        )
        return
    try:
        handle = _analyze_handler(tier, context)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc
    run_stream(source, output, handle, command="analyze", noun="message", batch=batch_size)


def _analyze_archive(
    source: str,
    output: str,
    tier: str,
    context: Any,
    batch_size: int,
    workers: int | None,
    dask_address: str | None,
    fmt: str,
    chunk_size: int,
) -> None:
    """``analyze`` in chunks, on worker processes or a Dask cluster: same records, same order,
    same messages and exit codes as the single-process loop (``run_stream``)."""
    # lazy: keeps `gracedesk --help` fast
    import sys
    from functools import partial

    # lazy: keeps `gracedesk --help` fast
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.analysis.pipeline import get_analyzer
    from gracedesk.cli.jsonl import read_lines
    from gracedesk.insights import archive

    try:
        get_analyzer(tier)  # fail here, with the usual message, not inside a worker
        if fmt == "parquet":
            archive.parquet_schema()
        if dask_address is not None:
            archive.dask_client()
    except (GracedeskError, archive.MissingExtra) as exc:
        raise click.ClickException(str(exc)) from exc
    fin = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    fout = None
    progress = None
    try:
        if fmt == "parquet":
            sink: archive.Sink = archive.ParquetSink(output)
        else:
            fout = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")  # noqa: SIM115
            sink = archive.JsonlSink(fout)
        if sys.stderr.isatty():
            # lazy: keeps `gracedesk --help` fast
            from tqdm import tqdm

            progress = tqdm(unit=" lines", file=sys.stderr)
        try:
            counts = archive.run_archive(
                enumerate(read_lines(fin), start=1),
                sink,
                partial(_analyze_handler, tier, context),
                workers=workers or 0,
                dask_address=dask_address,
                chunk_size=chunk_size,
                batch=batch_size,
                progress=progress.update if progress is not None else None,
            )
        except OSError as exc:
            raise click.ClickException(f"archive analysis failed: {exc}") from exc
    finally:
        if progress is not None:
            progress.close()
        if fin is not sys.stdin.buffer:
            fin.close()
        if fout is not None and fout is not sys.stdout:
            fout.close()
    if counts.ok == 0:
        click.echo(
            f"gracedesk analyze: no usable message in the input ({counts.bad} bad line(s))",
            err=True,
        )
        sys.exit(1)
    if counts.bad:
        click.echo(
            f"gracedesk analyze: {counts.ok} done, {counts.bad} line(s) with errors", err=True
        )


@cli.command("eval")
@click.option(
    "--tier", type=click.Choice(["fast", "accurate", "both"]), default="both", show_default=True
)
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the public datasets (default: $GRACEDESK_DATA_DIR or ../shared/data).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the full report as JSON to this file.",
)
@click.option(
    "--baselines/--no-baselines",
    default=True,
    show_default=True,
    help="Also score VADER, TextBlob and alt-profanity-check where installed.",
)
def eval_cmd(tier: str, data: str | None, json_out: str | None, baselines: bool) -> None:
    """Print quality on our fixed dev splits (macro-F1 per task, evidence, calibration)."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.eval.runner import render, run

    tiers = ["fast", "accurate"] if tier == "both" else [tier]
    try:
        report = run(tiers, data=data, baselines=baselines)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(render(report))
    _write_json(report, json_out)


def _write_json(report: dict[str, object], json_out: str | None) -> None:
    if json_out is not None:
        Path(json_out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        click.echo(f"\nwritten: {json_out}")


@cli.command()
@click.option(
    "--n",
    "n",
    type=click.IntRange(100, 1_000_000),
    default=20_000,
    show_default=True,
    help="Messages for the throughput runs.",
)
@click.option(
    "--tier", type=click.Choice(["fast", "accurate", "both"]), default="both", show_default=True
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the full report as JSON to this file.",
)
def bench(n: int, tier: str, json_out: str | None) -> None:
    """Throughput and latency of both tiers next to VADER, measured in the same run."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.eval.bench import render, run

    tiers = ["fast", "accurate"] if tier == "both" else [tier]
    report = run(tiers, n=n)
    click.echo(render(report))
    _write_json(report, json_out)


def _register() -> None:
    """Commands that live in their own modules (policy, guidance)."""
    # lazy: keeps `gracedesk --help` fast
    # lazy: keeps `gracedesk --help` fast
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.advise_cmd import advise
    from gracedesk.cli.coach_cmd import coach
    from gracedesk.cli.connectors_cmd import connectors
    from gracedesk.cli.desk_cmd import customers, db, serve, users, worker
    from gracedesk.cli.policy_cmd import decide, policy

    for cmd in (decide, policy, coach, advise, serve, worker, db, users, customers, connectors):
        cli.add_command(cmd)
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.mail_cmd import mail, mailboxes  # e-mail in (docs/email.md)

    cli.add_command(mailboxes)
    cli.add_command(mail)
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.import_cmd import import_cmd  # ``import``: a Python keyword

    cli.add_command(import_cmd)
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.report_cmd import report  # reports (docs/insights.md)

    cli.add_command(report)
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.train_cmd import train  # simulated customers (docs/training.md)

    cli.add_command(train)
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.cli.kb_cmd import kb  # knowledge base (docs/knowledge.md)

    cli.add_command(kb)


_register()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
