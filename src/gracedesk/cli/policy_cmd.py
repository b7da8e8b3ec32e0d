"""``gracedesk decide`` and ``gracedesk policy`` (check, explain, replay): thin wiring.

The current time is read here, once per run (``--now`` overrides it), never in the core.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gracedesk.cli.desk_cmd import _settings, _store
from gracedesk.cli.jsonl import MAX_LINE_BYTES, Item, error_record, output_option, run_stream
from gracedesk.errors import GracedeskError, InvalidFacts, MalformedLine, PolicyInvalid
from gracedesk.insights.replay import render_text, report
from gracedesk.model.situation_parse import parse_time
from gracedesk.policy import load_policy
from gracedesk.service.flow import run_scenario

if TYPE_CHECKING:
    from gracedesk.analysis.pipeline import Analyzer
    from gracedesk.policy import PolicySet


POLICY_HELP = "Policy directory (policy.toml + rules/*.toml); default: the shipped policy."


def _load(policy_dir: str | None) -> PolicySet:
    try:
        return load_policy(policy_dir)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_time(value, "--now")
    except InvalidFacts as exc:
        raise click.BadParameter(exc.message, param_hint="--now") from exc


def _analyzer(tier: str) -> Analyzer:
    # lazy: the analyzer loads numpy and scipy; keeps `gracedesk --help` fast
    from gracedesk.analysis.pipeline import get_analyzer

    try:
        return get_analyzer(tier)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc


def _parse_json(raw: bytes, line: int) -> Any:
    s = raw.decode("utf-8", errors="replace").rstrip("\r\n").removeprefix("\ufeff")
    if not s.strip():
        raise MalformedLine(f"line {line} is empty")
    try:
        obj = json.loads(s)
    except json.JSONDecodeError as exc:
        raise MalformedLine(
            f"line {line}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(obj, dict):
        raise MalformedLine(f"line {line}: expected a JSON object")
    return obj


@click.command()
@click.argument(
    "source", default="-", type=click.Path(exists=True, allow_dash=True, dir_okay=False)
)
@click.option(
    "--policy", "policy_dir", type=click.Path(exists=True, file_okay=False), help=POLICY_HELP
)
@click.option("--now", "now_s", help="Decision time, ISO 8601 (default: the current time).")
@click.option("--tier", type=click.Choice(["fast", "accurate"]), default="fast", show_default=True)
@output_option()
def decide(source: str, policy_dir: str | None, now_s: str | None, tier: str, output: str) -> None:
    """Decide by policy for JSONL scenarios: {"id","messages",...} in, one JSON line out each.

    Each output line is {"id", "signals", "decisions", "sla"}; a line that cannot be used gets
    {"id", "line", "error"} in its place. Exit 1 only when no line was usable.
    """
    policy = _load(policy_dir)
    now = _now(now_s)
    analyzer = _analyzer(tier)

    def handle(lines: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for n, raw in lines:
            obj: Any = None
            try:
                if len(raw) > MAX_LINE_BYTES:
                    raise MalformedLine(f"line {n} is over {MAX_LINE_BYTES} bytes")
                obj = _parse_json(raw, n)
                out.append(run_scenario(obj, policy, analyzer, now).record())
            except GracedeskError as exc:
                id_ = obj.get("id") if isinstance(obj, dict) else None
                out.append(error_record(Item(n, id_, None, error=exc)))
        return out

    run_stream(source, output, handle, command="decide", noun="scenario", batch=1)


@click.group()
def policy() -> None:
    """Validate, explain and replay policy files."""


@policy.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def check(directory: str) -> None:
    """Validate a policy directory: exit 0 when it is valid, 1 with every problem listed."""
    try:
        p = load_policy(directory)
    except PolicyInvalid as exc:
        click.echo(f"{directory}: {len(exc.problems)} problem(s)", err=True)
        for line in exc.problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    except GracedeskError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"ok: policy {p.version} in {directory}: {len(p.rules)} rule(s)")


@policy.command("explain")
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--policy", "policy_dir", type=click.Path(exists=True, file_okay=False), help=POLICY_HELP
)
@click.option("--now", "now_s", help="Decision time, ISO 8601 (default: the current time).")
@click.option("--tier", type=click.Choice(["fast", "accurate"]), default="fast", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the trace as JSON.")
def explain_cmd(
    scenario: str, policy_dir: str | None, now_s: str | None, tier: str, as_json: bool
) -> None:
    """Show every rule, whether it matched and why, and the final decisions for one scenario."""
    policy_set = _load(policy_dir)
    now = _now(now_s)
    text = sys.stdin.read() if scenario == "-" else Path(scenario).read_text(encoding="utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{scenario}: not valid JSON ({exc})") from exc
    try:
        out = run_scenario(obj, policy_set, _analyzer(tier), now)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        rec = out.record()
        rec["rules"] = [
            {
                "rule_id": r.rule_id,
                "precedence": r.precedence,
                "specificity": r.specificity,
                "matched": r.matched,
                "because": list(r.because),
                "effects": list(r.effects),
            }
            for r in out.trace.rules
        ]
        click.echo(json.dumps(rec, indent=2, ensure_ascii=False))
        return
    click.echo(f"policy {policy_set.version} ({policy_set.source}); now {now.isoformat()}")
    click.echo(f"scenario {out.situation.id!r}\n\nrules (highest precedence first):")
    for r in out.trace.rules:
        mark = "MATCH" if r.matched else "  -  "
        click.echo(
            f"  [{mark}] {r.rule_id} (precedence {r.precedence}, specificity {r.specificity})"
        )
        label = "because" if r.matched else "not met"
        click.echo(f"          {label}: {'; '.join(r.because)}")
        for e in r.effects:
            click.echo(f"          -> {e}")
    click.echo("\ndecisions:")
    for d in out.trace.decisions:
        fields = ", ".join(
            f"{k}={v}"
            for k, v in d.to_dict().items()
            if k not in ("reason", "policy_version", "rule_id", "precedence")
        )
        click.echo(f"  {fields}  [{d.rule_id}]\n      {d.reason}")
    s = out.sla
    click.echo(
        f"\nsla: priority {s.priority}; first response due {s.first_response_due.isoformat()}; "
        f"resolution due {s.resolution_due.isoformat()}"
    )


def _period(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_time(value, name)
    except InvalidFacts as exc:
        raise click.BadParameter(exc.message, param_hint=name) from exc


@policy.command("replay")
@click.argument("directory")
@click.option("--since", "since_s", help="Replay messages received from this time (ISO 8601).")
@click.option("--until", "until_s", help="... and before this time (ISO 8601).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--examples", default=20, show_default=True, type=click.IntRange(0), help="Changes shown."
)
@click.option("--home", metavar="DIR", help="Data directory (sets GRACEDESK_HOME).")
def replay_cmd(
    directory: str,
    since_s: str | None,
    until_s: str | None,
    fmt: str,
    examples: int,
    home: str | None,
) -> None:
    """Run the policy in DIRECTORY over the desk's stored history and report how its decisions
    differ from those that ran (the database of the GRACEDESK_* settings; docs/policy.md)."""
    # lazy: the service layer and the store (SQLAlchemy) load only to replay
    from gracedesk.service.replay import replay

    candidate = _load(directory)  # a bad directory: the loader's error, exit 1
    since, until = _period(since_s, "--since"), _period(until_s, "--until")
    if home:
        os.environ["GRACEDESK_HOME"] = home
    store = _store(_settings())
    try:
        rows, skipped = replay(store, candidate, since=since, until=until)
    except GracedeskError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    rep = report(
        rows,
        candidate=f"{candidate.version} ({directory})",
        examples=examples,
        skipped=skipped,
        since=since,
        until=until,
    )
    if fmt == "json":
        click.echo(json.dumps(rep, indent=2, ensure_ascii=False))
    else:
        click.echo(render_text(rep), nl=False)
