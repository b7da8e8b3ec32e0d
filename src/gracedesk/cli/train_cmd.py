"""``gracedesk train``: practise on simulated difficult customers (docs/training.md).

``train list`` shows the scenarios; ``train play`` runs a session in the terminal, or plays a
script of replies (``--script FILE``, JSONL ``{"text": ...}``) and writes one JSON document.
The group stays open: other commands (``train build``) are added to it elsewhere.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from gracedesk.cli.train_build_cmd import build as build_cmd  # train build --from-desk
from gracedesk.errors import GracedeskError

if TYPE_CHECKING:
    from gracedesk.training.backend import LineWriter
    from gracedesk.training.scenario import Scenario

SCENARIOS_HELP = "Also load scenarios from this folder (repeatable)."
EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"gracedesk train: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _scenarios(dirs: tuple[str, ...]) -> list[Scenario]:
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.training.scenario import load_scenarios

    try:
        return load_scenarios(dirs)
    except GracedeskError as exc:
        _fail(exc.message)


@click.group()
def train() -> None:
    """Practise on simulated difficult customers: list scenarios, play a session."""


@train.command("list")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("--scenarios", "dirs", multiple=True, type=click.Path(), help=SCENARIOS_HELP)
def list_cmd(fmt: str, dirs: tuple[str, ...]) -> None:
    """One line per scenario (its id first), or a JSON list of objects."""
    scenarios = _scenarios(dirs)
    if fmt == "json":
        click.echo(json.dumps([s.summary() for s in scenarios], indent=2))
        return
    for s in scenarios:
        click.echo(f"{s.id}  {s.persona}  {s.difficulty}  {s.cause}  {s.title}")


def _read_script(path: str) -> list[str]:
    """The trainee's replies: one ``{"text": ...}`` object per non-blank line."""
    try:
        raw = Path(path).read_bytes() if path != "-" else sys.stdin.buffer.read()
    except OSError as exc:
        _fail(f"--script {path}: cannot be read ({exc.strerror})")
    texts: list[str] = []
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        s = line.strip().removeprefix("\ufeff")
        if not s:
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            _fail(f"--script {path}: line {n}: invalid JSON ({exc.msg})")
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            _fail(f'--script {path}: line {n}: expected an object with a "text" string')
        if not obj["text"].strip():
            _fail(f"--script {path}: line {n}: the text is empty")
        texts.append(obj["text"])
    if not texts:
        _fail(f"--script {path}: no replies in the script")
    return texts


def _backend(env: dict[str, str]) -> LineWriter | None:
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.training.llm import ChatBackend, LLMConfig

    config = LLMConfig.from_env(env)
    return ChatBackend(config) if config is not None else None


def _show_state(state: dict[str, Any]) -> str:
    bars = "  ".join(f"{k} {float(state[k]):.2f}" for k in ("anger", "trust", "patience", "solved"))
    return f"[{bars}]"


@train.command("play")
@click.argument("scenario_id", metavar="SCENARIO")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same session.")
@click.option(
    "--script",
    "script",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help='Play these replies (JSONL {"text": ...}, one per turn) and print one JSON document.',
)
@click.option(
    "--pass-mark",
    type=click.FloatRange(0, 100),
    default=70.0,
    show_default=True,
    help="Score needed to pass (0-100).",
)
@click.option("--scenarios", "dirs", multiple=True, type=click.Path(), help=SCENARIOS_HELP)
def play(
    scenario_id: str, seed: int, script: str | None, pass_mark: float, dirs: tuple[str, ...]
) -> None:
    """Play SCENARIO: interactively (type /quit to stop), or from a script with --script."""
    # lazy: keeps `gracedesk --help` fast
    from gracedesk.training.scenario import get_scenario
    from gracedesk.training.simulator import Simulation

    try:
        scenario = get_scenario(scenario_id, dirs)
    except GracedeskError as exc:
        _fail(exc.message)
    texts = _read_script(script) if script is not None else None
    backend = _backend(dict(os.environ))
    sim = Simulation.start(scenario, seed=seed, backend=backend)
    if texts is not None:
        played = 0
        for text in texts:
            if sim.done:
                break
            sim.reply(text)
            played += 1
        doc = sim.result(pass_mark=pass_mark).to_dict()
        doc["unplayed"] = len(texts) - played
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    _interactive(sim, pass_mark)


def _interactive(sim: Any, pass_mark: float) -> None:
    s = sim.scenario
    click.echo(click.style(f"{s.title}", bold=True) + f"  ({s.persona}, {s.difficulty})")
    if s.briefing:
        click.echo(f"Briefing: {s.briefing}")
    if s.policy_notes:
        click.echo(f"Policy: {s.policy_notes}")
    if s.facts:
        click.echo("Facts: " + ", ".join(f"{k}={v}" for k, v in s.facts.items()))
    click.echo("Type your reply; /quit ends the session.\n")
    click.echo(click.style("Customer: ", fg="red") + sim.opening)
    while not sim.done:
        try:
            text = click.prompt(click.style("You", fg="green"), prompt_suffix=": ")
        except click.Abort:
            break
        if text.strip() == "/quit":
            break
        if not text.strip():
            continue
        r = sim.reply(text)
        click.echo(click.style("Customer: ", fg="red") + r.customer_text)
        click.echo(click.style(_show_state(r.state.to_dict()), dim=True))
        if r.findings:
            marks = ", ".join(("+" if f.good else "-") + f.kind for f in r.findings)
            click.echo(click.style(f"  {marks}", dim=True))
    result = sim.result(pass_mark=pass_mark)
    verdict = "PASSED" if result.passed else "not passed"
    click.echo(f"\nOutcome: {result.outcome}   Score: {result.score:.1f} ({verdict})")
    for c in result.rubric:
        click.echo(f"  {c['criterion']:<11} {c['score']:.2f}  {c['feedback']}")
        if c["better_reply"]:
            click.echo(click.style(f"              try: {c['better_reply']}", dim=True))


train.add_command(build_cmd)
