"""Scenarios: one TOML file per simulated customer, validated like a policy before use.

The format is fixed (docs/training.md "Scenario format"): unknown keys, values outside the
enums, an ``id`` that differs from the file's stem and ``{placeholders}`` that name no fact are
errors that name the file and the key. The packaged library lives in ``training/scenarios/``;
a team adds its own folders (``--scenarios DIR``), e.g. the ones ``train build`` writes.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gracedesk.errors import ScenarioInvalid, ScenarioNotFound

PERSONAS: tuple[str, ...] = ("serial_complainer", "indecisive", "demanding", "aggressive", "vague")
CAUSES: tuple[str, ...] = (
    "unmet_expectations",
    "poor_service",
    "miscommunication",
    "lack_of_information",
    "personal_stress",
)
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")
BUCKETS: tuple[str, ...] = (
    "opening",
    "escalating",
    "calming",
    "accepting",
    "leaving",
    "public_threat",
    "manager",
    "abusive",
    "clarifying",
)
CRITERIA: tuple[str, ...] = (
    "empathy",
    "ownership",
    "solution",
    "clarity",
    "boundaries",
    "promises",
    "policy",
    "outcome",
)
# The customer's state at the start when the file gives none, by difficulty.
START: dict[str, dict[str, float]] = {
    "easy": {"anger": 0.45, "trust": 0.5, "patience": 0.8},
    "medium": {"anger": 0.6, "trust": 0.4, "patience": 0.65},
    "hard": {"anger": 0.75, "trust": 0.3, "patience": 0.55},
}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
Persona = Literal["serial_complainer", "indecisive", "demanding", "aggressive", "vague"]
Cause = Literal[
    "unmet_expectations",
    "poor_service",
    "miscommunication",
    "lack_of_information",
    "personal_stress",
]
Bucket = Literal[
    "opening",
    "escalating",
    "calming",
    "accepting",
    "leaving",
    "public_threat",
    "manager",
    "abusive",
    "clarifying",
]
Unit = Field(default=None, ge=0.0, le=1.0)


class Start(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    anger: float | None = Unit
    trust: float | None = Unit
    patience: float | None = Unit


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    empathy: float = Field(default=1.0, ge=0.0)
    ownership: float = Field(default=1.0, ge=0.0)
    solution: float = Field(default=1.0, ge=0.0)
    clarity: float = Field(default=1.0, ge=0.0)
    boundaries: float = Field(default=1.0, ge=0.0)
    promises: float = Field(default=1.0, ge=0.0)
    policy: float = Field(default=1.0, ge=0.0)
    outcome: float = Field(default=1.0, ge=0.0)


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Bucket
    text: str = Field(min_length=1)


class Scenario(BaseModel):
    """One simulated customer: who they are, what they want, what resolves it, what is true."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=1)
    persona: Persona
    cause: Cause
    difficulty: Literal["easy", "medium", "hard"]
    wants: str = Field(min_length=1)
    resolution: tuple[str, ...] = Field(min_length=1)
    opening: str = Field(min_length=1)
    policy_notes: str = ""
    briefing: str = ""
    facts: dict[str, str] = Field(default_factory=dict)
    start: Start = Field(default_factory=Start)
    rubric: Rubric = Field(default_factory=Rubric)
    lines: tuple[Line, ...] = ()

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s.strip() for s in v):
            raise ValueError("resolution phrases must not be empty")
        return v

    @field_validator("facts")
    @classmethod
    def _facts(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                raise ValueError(f"fact name {key!r} must be lower_snake_case")
        return v

    @model_validator(mode="after")
    def _placeholders(self) -> Scenario:
        texts = [("opening", self.opening)] + [
            (f"lines[{i}].text", ln.text) for i, ln in enumerate(self.lines)
        ]
        for where, text in texts:
            for name in _PLACEHOLDER.findall(text):
                if name not in self.facts:
                    known = ", ".join(sorted(self.facts)) or "none"
                    raise ValueError(f"{where}: unknown placeholder {{{name}}} (facts: {known})")
        return self

    def start_state(self) -> dict[str, float]:
        """anger, trust and patience at the start: the file's, else the difficulty's defaults."""
        base = dict(START[self.difficulty])
        for k, v in self.start.model_dump().items():
            if v is not None:
                base[k] = float(v)
        return base

    def weights(self) -> dict[str, float]:
        """The rubric's weights, normalised to sum 1 (all equal when every weight is 0)."""
        raw = self.rubric.model_dump()
        total = sum(raw.values())
        if total <= 0:
            return {k: 1.0 / len(raw) for k in raw}
        return {k: v / total for k, v in raw.items()}

    def fill(self, text: str) -> str:
        """``text`` with ``{fact}`` placeholders filled; an unknown placeholder stays as typed."""
        return _PLACEHOLDER.sub(lambda m: self.facts.get(m.group(1), m.group(0)), text)

    def summary(self) -> dict[str, Any]:
        """What ``train list --format json`` shows of a scenario."""
        return {
            "id": self.id,
            "title": self.title,
            "persona": self.persona,
            "cause": self.cause,
            "difficulty": self.difficulty,
            "wants": self.wants,
        }


def _explain(exc: ValidationError, source: str) -> ScenarioInvalid:
    msgs = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(file)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        msgs.append(f"{source}: key {key!r}: {msg}")
    return ScenarioInvalid("; ".join(msgs))


def parse_scenario(text: str, source: str, *, stem: str | None = None) -> Scenario:
    """One scenario from TOML text. ``source`` names it in errors; ``stem``: the file's name
    without ``.toml``, which the ``id`` must equal."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioInvalid(f"{source}: not valid TOML ({exc})") from exc
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, source) from exc
    if stem is not None and scenario.id != stem:
        raise ScenarioInvalid(
            f"{source}: key 'id': {scenario.id!r} differs from the file name ({stem}.toml)"
        )
    return scenario


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as TOML text in the fixed format; ``parse_scenario`` reads it back equal."""
    out = []
    for key in ("id", "title", "persona", "cause", "difficulty", "wants", "resolution", "opening"):
        out.append(f"{key} = {_toml_value(getattr(scenario, key))}")
    for key in ("policy_notes", "briefing"):
        if getattr(scenario, key):
            out.append(f"{key} = {_toml_value(getattr(scenario, key))}")
    if scenario.facts:
        out += ["", "[facts]"] + [f"{k} = {_toml_value(v)}" for k, v in scenario.facts.items()]
    start = {k: v for k, v in scenario.start.model_dump().items() if v is not None}
    if start:
        out += ["", "[start]"] + [f"{k} = {_toml_value(v)}" for k, v in start.items()]
    rubric = scenario.rubric.model_dump(exclude_defaults=True)
    if rubric:
        out += ["", "[rubric]"] + [f"{k} = {_toml_value(v)}" for k, v in rubric.items()]
    for line in scenario.lines:
        out += ["", "[[lines]]", f"when = {_toml_value(line.when)}"]
        out.append(f"text = {_toml_value(line.text)}")
    return "\n".join(out) + "\n"


def _files(folder: Traversable) -> list[Traversable]:
    if not folder.is_dir():
        return []
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def packaged_dir() -> Traversable:
    return resources.files("gracedesk.training").joinpath("scenarios")


def load_scenarios(extra_dirs: Iterable[str | Path] = ()) -> list[Scenario]:
    """Every scenario of the packaged library and of ``extra_dirs``, sorted by id.

    Raises :class:`ScenarioInvalid` for the first file that does not validate, or when two
    files share an id (both are named), and :class:`ScenarioNotFound` for a missing folder."""
    folders: list[tuple[str, Traversable]] = [("scenarios", packaged_dir())]
    for d in extra_dirs:
        p = Path(d)
        if not p.is_dir():
            raise ScenarioNotFound(f"scenario folder {str(d)!r} does not exist")
        folders.append((str(p), p))
    seen: dict[str, str] = {}
    out: list[Scenario] = []
    for label, folder in folders:
        for f in _files(folder):
            source = f"{label}/{f.name}"
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ScenarioInvalid(f"{source}: cannot be read ({exc})") from exc
            s = parse_scenario(text, source, stem=f.name.removesuffix(".toml"))
            if s.id in seen:
                raise ScenarioInvalid(f"{source}: key 'id': {s.id!r} is also in {seen[s.id]}")
            seen[s.id] = source
            out.append(s)
    return sorted(out, key=lambda s: s.id)


def get_scenario(scenario_id: str, extra_dirs: Iterable[str | Path] = ()) -> Scenario:
    """The scenario with this id, from the packaged library or ``extra_dirs``."""
    scenarios = load_scenarios(extra_dirs)
    for s in scenarios:
        if s.id == scenario_id:
            return s
    known = ", ".join(s.id for s in scenarios) or "none"
    raise ScenarioNotFound(f"no scenario {scenario_id!r} (known: {known})")
