"""The policy schema: what a ``policy.toml`` and a rule file may say (unknown keys are errors).

The models are pydantic with ``extra="forbid"``; cross-file checks (known fields, priorities,
roles, unique rule ids) live in :mod:`gracedesk.policy.loader`. :class:`PolicySet` is the
validated result that :func:`gracedesk.policy.decide` reads.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gracedesk.model.decision import ESCALATION_TARGETS

if TYPE_CHECKING:
    from gracedesk.policy.condition import Test

OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains")
Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "contains"]
Scalar = bool | int | float | str
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ESCALATE_MODES = ("transfer", "offer", "immediate")
PROTECT_MODES = ("suggest_break", "reassign")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(Strict):
    """Exactly one of: ``all`` / ``any`` (lists), ``not`` (one condition), or a comparison
    ``field`` ``op`` ``value`` over a dotted fact name (see :mod:`gracedesk.policy.facts`)."""

    all: list[Condition] | None = Field(default=None, min_length=1)
    any: list[Condition] | None = Field(default=None, min_length=1)
    not_: Condition | None = Field(default=None, alias="not")
    field: str | None = None
    op: Op | None = None
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [
            k
            for k, v in (("all", self.all), ("any", self.any), ("not", self.not_))
            if v is not None
        ]
        leaf = [k for k in ("field", "op", "value") if getattr(self, k) is not None]
        if leaf and forms:
            raise ValueError(f"a condition is either {forms[0]!r} or a comparison, not both")
        if len(forms) > 1:
            raise ValueError(f"a condition has one of all/any/not, not {' and '.join(forms)}")
        if not forms and len(leaf) != 3:
            missing = [k for k in ("field", "op", "value") if k not in leaf]
            raise ValueError(f"a comparison needs field, op and value (missing: {missing})")
        return self

    @property
    def specificity(self) -> int:
        """Number of comparisons in the condition."""
        if self.all is not None:
            return sum(c.specificity for c in self.all)
        if self.any is not None:
            return sum(c.specificity for c in self.any)
        if self.not_ is not None:
            return self.not_.specificity
        return 1


class Action(Strict):
    """One thing a rule does. Which keys apply depends on ``type`` (others are errors)."""

    type: Literal[
        "escalate",
        "require_approval",
        "set_priority",
        "route",
        "warn_customer",
        "restrict",
        "block",
        "sanction",
        "protect_agent",
        "schedule_follow_up",
    ]
    target: str | None = None
    mode: str | None = None
    priority: str | None = None
    kind: Literal["refund", "discount", "credit", "exception"] | None = None
    minutes: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _keys_for_type(self) -> Action:
        allowed = {
            "escalate": {"target", "mode"},
            "require_approval": {"kind"},
            "set_priority": {"priority"},
            "route": {"target"},
            "warn_customer": set(),
            "restrict": {"minutes"},
            "block": set(),
            "sanction": set(),
            "protect_agent": {"mode"},
            "schedule_follow_up": {"minutes"},
        }[self.type]
        for key in ("target", "mode", "priority", "kind", "minutes"):
            if getattr(self, key) is not None and key not in allowed:
                raise ValueError(f"key {key!r} does not apply to action {self.type!r}")
        if self.type == "escalate":
            if self.target not in ESCALATION_TARGETS:
                raise ValueError(f"escalate needs target, one of {list(ESCALATION_TARGETS)}")
            if self.mode is not None and self.mode not in ESCALATE_MODES:
                raise ValueError(f"escalate mode must be one of {list(ESCALATE_MODES)}")
        if self.type == "route" and not self.target:
            raise ValueError("route needs a target team")
        if self.type == "set_priority" and not self.priority:
            raise ValueError("set_priority needs a priority")
        if self.type == "protect_agent" and self.mode not in PROTECT_MODES:
            raise ValueError(f"protect_agent needs mode, one of {list(PROTECT_MODES)}")
        if self.type == "schedule_follow_up" and self.minutes is None:
            raise ValueError("schedule_follow_up needs minutes (business minutes from now)")
        return self


class Rule(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    precedence: int
    description: str = Field(min_length=1)
    when: Condition
    action: list[Action] = Field(min_length=1)
    enabled: bool = True


class RuleFile(Strict):
    """A file under ``rules/``: only ``[[rule]]`` tables."""

    rule: list[Rule] = Field(default_factory=list)


class Default(Strict):
    """What happens in a slot no rule filled: the priority and the team the message goes to."""

    priority: str
    route: str = Field(min_length=1)


class Role(Strict):
    """One row of the authority matrix: limits per request kind and what the role may do."""

    rank: int = Field(ge=0)
    refund: float = Field(default=0.0, ge=0)
    discount: float = Field(default=0.0, ge=0)
    credit: float = Field(default=0.0, ge=0)
    approve_exceptions: bool = False
    may_block: bool = False


class Target(Strict):
    first_response_minutes: int = Field(gt=0)
    resolution_minutes: int = Field(gt=0)
    business_hours: bool = True  # false: the clock runs round the clock (urgent work)


class Sla(Strict):
    priorities: list[str] = Field(min_length=1)  # most urgent first
    targets: dict[str, Target]


class Calendar(Strict):
    timezone: str
    hours: dict[Weekday, list[str]]
    holidays: list[date] = Field(default_factory=list)
    pause_while_waiting_on_customer: bool = True

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    @field_validator("hours")
    @classmethod
    def _windows(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, windows in v.items():
            for w in windows:
                m = _WINDOW.match(w)
                if m is None:
                    raise ValueError(f"{day}: window {w!r} is not HH:MM-HH:MM")
                start = int(m[1]) * 60 + int(m[2])
                end = int(m[3]) * 60 + int(m[4])
                if end > 24 * 60 or end <= start:
                    raise ValueError(f"{day}: window {w!r} must end after it starts, by 24:00")
        if not any(v.values()):
            raise ValueError("no working hours on any weekday")
        return v


BLOCK_REPLY = (
    "We have received your message. Because of the language used in earlier messages, new "
    "messages on this account are reviewed by a supervisor before they are answered. We will "
    "reply once it has been reviewed."
)
RESTRICT_REPLY = (
    "We have received your message. For now we can only answer this account in writing: "
    "please write to us by e-mail or through our website and we will reply there."
)


class BlockEffects(Strict):
    """What an active block does to the customer's new messages: they are stored and held for a
    supervisor (never lost, never in an agent's queue), answered once by ``auto_reply``."""

    auto_reply: str = Field(default=BLOCK_REPLY, min_length=1, max_length=2000)
    auto_reply_hours: float = Field(default=24.0, gt=0)  # at most one auto-reply this often


class RestrictEffects(Strict):
    """What an active restriction means: written channels only (a message on another channel
    is held like a blocked one, with ``auto_reply``), and longer SLA targets."""

    channels: list[str] = Field(default_factory=list)  # channels still served; empty: every one
    sla_factor: float = Field(default=1.0, ge=1.0, le=10.0)  # SLA targets multiplied by this
    auto_reply: str = Field(default=RESTRICT_REPLY, min_length=1, max_length=2000)
    auto_reply_hours: float = Field(default=24.0, gt=0)


class Sanctions(Strict):
    """The ladder warn -> restrict -> block, and the condition that allows skipping steps."""

    window_days: int = Field(default=365, gt=0)  # older sanctions no longer count
    restrict_minutes: int = Field(default=1440, gt=0)  # cooling-off length
    block_approver: str = "supervisor"
    violence: Condition  # when true, an explicit restrict/block may skip steps
    block: BlockEffects = Field(default_factory=BlockEffects)
    restrict: RestrictEffects = Field(default_factory=RestrictEffects)


class Wellbeing(Strict):
    """Rotation off abusive work (``service.rotation``): an agent who handled
    ``exposure_limit`` abusive conversations within ``window_minutes`` (since their last break)
    gets no more for now; the next goes to the least exposed agent, or to a supervisor when
    everyone is at the limit or ``route_to = "supervisor"``. Optional: these are the defaults."""

    exposure_limit: int = Field(default=3, ge=1, le=100)
    window_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    route_to: Literal["least_exposed", "supervisor"] = "least_exposed"


class PolicyFile(Strict):
    version: str = Field(min_length=1)
    description: str = ""
    default: Default
    authority: dict[str, Role] = Field(min_length=1)
    sla: Sla
    calendar: Calendar
    sanctions: Sanctions
    wellbeing: Wellbeing = Field(default_factory=Wellbeing)
    rule: list[Rule] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """A validated policy: ``policy.toml`` plus every rule file, rules sorted by id."""

    version: str
    default: Default
    authority: dict[str, Role]
    sla: Sla
    calendar: Calendar
    sanctions: Sanctions
    rules: tuple[Rule, ...]
    source: str
    wellbeing: Wellbeing = dataclasses.field(default_factory=Wellbeing)
    # derived once (every message's explain reads them): each rule's specificity by id, and
    # the rules in the order a trace lists them (highest precedence first, then id)
    specificity: dict[str, int] = dataclasses.field(init=False, compare=False, repr=False)
    by_precedence: tuple[Rule, ...] = dataclasses.field(init=False, compare=False, repr=False)
    # each rule's condition compiled (``policy.condition.compiled``), in the order of ``rules``
    tests: tuple[Test, ...] = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        from gracedesk.policy.condition import compiled  # cycle: condition imports this module

        object.__setattr__(self, "specificity", {r.id: r.when.specificity for r in self.rules})
        ordered = tuple(sorted(self.rules, key=lambda r: (-r.precedence, r.id)))
        object.__setattr__(self, "by_precedence", ordered)
        object.__setattr__(self, "tests", tuple(compiled(r.when) for r in self.rules))
